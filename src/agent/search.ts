import fs from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AgentError } from './errors.js';
import { globMatcher } from './glob.js';
import { openRegular, readWhole } from './regular.js';
import type { AgentErrorBody } from './protocol.js';
import { sniff, SNIFF_BYTES } from './sniff.js';
import { walk, type WalkItem, type WalkStats } from './walk.js';

/** Files bigger than this are counted, not searched. */
export const MAX_SEARCH_FILE_BYTES = 32 << 20;
const MAX_LINE_CHARS = 400;
const SEARCH_DEPTH = 64;

export interface SearchJob {
  root: string;
  workdir: string;
  pattern: string;
  flags: string;
  glob?: string;
  maxResults: number;
  includeHidden?: boolean;
  deadline: number;
}

export interface SearchOutcome {
  matches: { path: string; line: number; text: string }[];
  truncated: boolean;
  filesSearched: number;
  binarySkipped: number;
  largeSkipped: number;
  timedOut: boolean;
}

/** The pattern compiled as given; Unicode mode when the pattern allows it (\p{L}, astral classes). */
export function compilePattern(pattern: string, caseSensitive: boolean): { flags: string } {
  const base = caseSensitive ? 'gm' : 'gim';
  try {
    new RegExp(pattern, `${base}u`);
    return { flags: `${base}u` };
  } catch {
    /* not valid in u mode */
  }
  try {
    new RegExp(pattern, base);
    return { flags: base };
  } catch (e) {
    throw new AgentError(
      'INVALID_ARGUMENT',
      `invalid regex ${JSON.stringify(pattern)}: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`,
      'pattern is a JavaScript regular expression: escape special characters like ( [ { . * + ? with \\, e.g. "foo\\(" to find "foo("',
    );
  }
}

export function displayPath(workdir: string, abs: string): string {
  const rel = path.relative(workdir, abs);
  if (rel === '') return '.';
  return rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel;
}

/**
 * Runs in a worker thread (see runSearch): a catastrophic pattern can only stall its own thread.
 * `progress` gets the outcome so far now and then, so a killed search still returns its matches.
 */
export async function searchFiles(job: SearchJob, progress?: (o: SearchOutcome) => void): Promise<SearchOutcome> {
  const re = new RegExp(job.pattern, job.flags);
  const keep = globMatcher(job.glob);
  const out: SearchOutcome = {
    matches: [],
    truncated: false,
    filesSearched: 0,
    binarySkipped: 0,
    largeSkipped: 0,
    timedOut: false,
  };
  const st = await fs.stat(job.root);
  const stats: WalkStats = { hidden: 0, scanned: 0, exhausted: false, unreadable: 0 };
  const items: AsyncIterable<Pick<WalkItem, 'abs' | 'rel'> & { file: boolean }> = st.isDirectory()
    ? (async function* () {
        for await (const i of walk(job.root, { depth: SEARCH_DEPTH, includeHidden: job.includeHidden }, stats))
          yield { abs: i.abs, rel: i.rel, file: i.dirent.isFile() };
      })()
    : (async function* () {
        yield { abs: job.root, rel: path.basename(job.root), file: st.isFile() };
      })();
  let reported = 0;
  for await (const item of items) {
    if (!item.file || (keep && !keep(item.rel))) continue;
    if (Date.now() > job.deadline) {
      out.timedOut = true;
      break;
    }
    if (!(await searchOne(item.abs, re, job, out))) break;
    if (progress && (out.matches.length > reported || out.filesSearched % 200 === 0)) {
      reported = out.matches.length;
      progress(out);
    }
  }
  return out;
}

/** Returns false once maxResults is passed (the search is over). */
async function searchOne(abs: string, pattern: RegExp, job: SearchJob, out: SearchOutcome): Promise<boolean> {
  let buf: Buffer | undefined;
  try {
    // Regular files only, checked on the open file: a device (bwrap's /dev lists them as regular
    // files) or a FIFO would be read for ever.
    const { fh, size } = await openRegular(abs);
    try {
      buf = await readWhole(fh, size, MAX_SEARCH_FILE_BYTES);
    } finally {
      await fh.close();
    }
  } catch {
    return true; // vanished, unreadable or not a regular file: not worth failing the whole search
  }
  if (!buf) {
    out.largeSkipped++;
    return true;
  }
  return searchBuffer(buf, displayPath(job.workdir, abs), pattern, job.maxResults, out);
}

/**
 * One file's content: skipped if binary, else one match per line added to `out`. Returns false once
 * maxResults is passed. Shared with providers that fetch file contents over a vendor API.
 */
export function searchBuffer(
  buf: Buffer,
  shown: string,
  pattern: RegExp,
  maxResults: number,
  out: SearchOutcome,
): boolean {
  if (sniff(buf.subarray(0, SNIFF_BYTES)).kind !== 'text') {
    out.binarySkipped++;
    return true;
  }
  out.filesSearched++;
  const content = buf.toString('utf8');
  pattern.lastIndex = 0;
  let lineNo = 1;
  let pos = 0;
  for (let m = pattern.exec(content); m; m = pattern.exec(content)) {
    const at = m.index;
    // An empty match after the final newline (e.g. "^" or "$") is on no line of the file.
    if (at === content.length && content.endsWith('\n')) break;
    for (let i = content.indexOf('\n', pos); i !== -1 && i < at; i = content.indexOf('\n', i + 1)) lineNo++;
    if (out.matches.length >= maxResults) {
      out.truncated = true;
      return false;
    }
    const lineStart = content.lastIndexOf('\n', at - 1) + 1;
    let lineEnd = content.indexOf('\n', at);
    if (lineEnd < 0) lineEnd = content.length;
    out.matches.push({
      path: shown,
      line: lineNo,
      text: shorten(content.slice(lineStart, lineEnd).replace(/\r$/, ''), at - lineStart),
    });
    if (lineEnd >= content.length) break;
    // One result per line: go on from the next line.
    pattern.lastIndex = lineEnd + 1;
    pos = lineEnd + 1;
    lineNo++;
  }
  return true;
}

function shorten(line: string, col: number): string {
  if (line.length <= MAX_LINE_CHARS) return line;
  const from = Math.max(0, Math.min(col - 100, line.length - MAX_LINE_CHARS));
  return `${from > 0 ? '…' : ''}${line.slice(from, from + MAX_LINE_CHARS)}${from + MAX_LINE_CHARS < line.length ? '…' : ''}`;
}

/**
 * Searches in a worker thread. Past the deadline (plus a grace period) the worker is killed, e.g. a
 * pattern that backtracks for minutes on one line, and the matches reported so far are returned.
 */
export function runSearch(job: SearchJob): Promise<SearchOutcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./search-worker.js', import.meta.url), {
      workerData: job,
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    let partial: SearchOutcome = {
      matches: [],
      truncated: false,
      filesSearched: 0,
      binarySkipped: 0,
      largeSkipped: 0,
      timedOut: false,
    };
    const timer = setTimeout(
      () => {
        void worker.terminate();
        resolve({ ...partial, timedOut: true });
      },
      Math.max(0, job.deadline - Date.now()) + 1000,
    );
    const settle = () => {
      clearTimeout(timer);
      void worker.terminate();
    };
    type Msg =
      | { type: 'progress'; outcome: SearchOutcome }
      | { type: 'done'; outcome: SearchOutcome }
      | { type: 'error'; error: AgentErrorBody };
    worker.on('message', (msg: Msg) => {
      if (msg.type === 'progress') {
        partial = msg.outcome;
        return;
      }
      settle();
      if (msg.type === 'done') resolve(msg.outcome);
      else reject(new AgentError(msg.error.code, msg.error.message, msg.error.hint));
    });
    worker.once('error', (error) => {
      settle();
      reject(new AgentError('LIMIT_EXCEEDED', `search failed: ${error.message}`, 'narrow path or glob'));
    });
  });
}
