import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { SandboxError, type SandboxErrorCode } from '../../errors.js';
import { globMatcher } from '../../agent/glob.js';
import { compilePattern, displayPath } from '../../agent/search.js';
import { readTextRange } from '../../agent/text.js';
import { IGNORED_DIRS, MAX_SCANNED, SYSTEM_DIRS } from '../../agent/walk.js';
import type {
  FileStat,
  ReadTextOptions,
  ReadTextResult,
  SearchOptions,
  SearchResult,
  TreeEntry,
  TreeOptions,
  TreeResult,
} from '../types.js';

/**
 * readText, tree and search for docker sandboxes. The walking and searching happen in the container
 * (find, grep) as the sandbox user; glob matching, sorting and text slicing reuse the local agent's
 * own modules here, so both providers answer alike.
 */
export const READ_TEXT_MAX_BYTES = 64 << 20;
const SEARCH_FILE_MAX_BYTES = 32 << 20;
const SEARCH_DEPTH = 64;

/** The local agent's modules throw AgentError (code, message, hint); the project speaks SandboxError. */
function agentCall<T>(callback: () => T): T {
  try {
    return callback();
  } catch (e) {
    const a = e as { code?: string; message: string; hint?: string };
    if (a instanceof SandboxError || !a.code) throw e;
    throw new SandboxError(a.code as SandboxErrorCode, a.message, { hint: a.hint });
  }
}

/** find's expression: hidden names counted and pruned, ignored folders reported and pruned. */
export function walkArgs(
  root: string,
  depth: number,
  options: { includeHidden?: boolean; includeIgnored?: boolean },
  filesOnly = false,
): string[] {
  const args = [root, '-mindepth', '1', '-maxdepth', String(depth)];
  // Devices and kernel files (see SYSTEM_DIRS): listed from /, never walked into.
  if (root === '/') {
    const system = [...SYSTEM_DIRS].flatMap((d, i) => (i ? ['-o', '-path', d] : ['-path', d]));
    args.push(
      '(',
      '(',
      ...system,
      ')',
      ...(filesOnly ? [] : ['-printf', 'S%y\\t%s\\t%T@\\t%P\\t%l\\0']),
      '-prune',
      ')',
      '-o',
    );
  }
  if (!options.includeHidden) args.push('(', '-name', '.*', '-printf', 'H\\0', '-prune', ')', '-o');
  if (!options.includeIgnored) {
    const names = [...IGNORED_DIRS].flatMap((n, i) => (i ? ['-o', '-name', n] : ['-name', n]));
    args.push(
      '(',
      '-type',
      'd',
      '(',
      ...names,
      ')',
      ...(filesOnly ? [] : ['-printf', 'S%y\\t%s\\t%T@\\t%P\\t%l\\0']),
      '-prune',
      ')',
      '-o',
    );
  }
  if (filesOnly) args.push('-type', 'f', '-size', `-${SEARCH_FILE_MAX_BYTES + 1}c`, '-printf', 'F%s\\t%P\\0');
  else args.push('-printf', 'E%y\\t%s\\t%T@\\t%P\\t%l\\0');
  return args;
}

const FIND_TYPES: Record<string, FileStat['type']> = { f: 'file', d: 'directory', l: 'symlink' };

export function parseTree(root: string, workdir: string, out: string, treeOptions: TreeOptions): TreeResult {
  const keep = agentCall(() => globMatcher(treeOptions.glob));
  const found: (TreeEntry & { key: string[] })[] = [];
  let hidden = 0;
  let scanned = 0;
  for (const rec of out.split('\0')) {
    if (!rec) continue;
    if (++scanned > MAX_SCANNED) break;
    if (rec === 'H') {
      hidden++;
      continue;
    }
    const [t = '', size, mtime, rel = '', link] = rec.slice(1).split('\t');
    if (keep && !keep(rel)) continue;
    const type = FIND_TYPES[t] ?? 'other';
    found.push({
      path: displayPath(workdir, path.posix.join(root, rel)),
      type,
      size: Number(size),
      mtime: new Date(Number(mtime) * 1000).toISOString(),
      linkTarget: type === 'symlink' ? link : undefined,
      skipped: rec[0] === 'S' || undefined,
      key: rel.split('/'),
    });
  }
  found.sort((x, y) => comparePaths(x.key, y.key));
  const truncated = found.length > treeOptions.maxEntries || scanned > MAX_SCANNED;
  return {
    root,
    entries: found.slice(0, treeOptions.maxEntries).map(({ key: _key, ...e }) => e),
    truncated,
    hiddenCount: hidden,
  };
}

/** Parents before children, names in byte order within a folder (as the local walk). */
function comparePaths(first: string[], second: string[]): number {
  for (let i = 0; i < Math.min(first.length, second.length); i++) {
    if (first[i] !== second[i]) return first[i]! < second[i]! ? -1 : 1;
  }
  return first.length - second.length;
}

/** Lines of a file fetched whole (up to READ_TEXT_MAX_BYTES), sliced by the local agent's text module. */
export async function textOf(
  file: string,
  data: Buffer,
  size: number,
  readTextOptions: ReadTextOptions,
): Promise<ReadTextResult> {
  const fh = {
    read: async (buf: Buffer, off: number, len: number, pos: number) => ({
      bytesRead: data.copy(buf, off, pos, Math.min(data.length, pos + len)),
      buffer: buf,
    }),
  } as unknown as FileHandle;
  const { bytes, ...range } = await agentCall(() => readTextRange(fh, size, readTextOptions));
  return { path: file, size, ...range, text: range.kind === 'text' ? bytes.toString('utf8') : '' };
}

/** Validates like the local provider; the grep in the container then uses PCRE, JavaScript's close kin. */
export function searchArgs(pattern: string, searchOptions: SearchOptions): { flags: string } {
  if (!pattern)
    throw new SandboxError('INVALID_ARGUMENT', 'pattern must be a non-empty regex', { hint: 'e.g. "TODO|FIXME"' });
  agentCall(() => globMatcher(searchOptions.glob));
  return agentCall(() => compilePattern(pattern, searchOptions.caseSensitive !== false));
}

export const SEARCH_DEPTH_MAX = SEARCH_DEPTH;

/** grep -Z output: "file\0line:text\n" per matching line (a file name may hold a newline, text may not). */
export function parseSearch(
  root: string,
  workdir: string,
  out: Buffer,
  candidates: number,
  maxResults: number,
): SearchResult {
  const matches: SearchResult['matches'] = [];
  let truncated = false;
  const all = out.toString('utf8');
  for (let at = 0, z = all.indexOf('\0'); z >= 0; z = all.indexOf('\0', at)) {
    const nl = all.indexOf('\n', z);
    const line = all.slice(z + 1, nl < 0 ? undefined : nl);
    const name = all.slice(at, z);
    at = nl < 0 ? all.length : nl + 1;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    if (matches.length >= maxResults) {
      truncated = true;
      break;
    }
    const text = line.slice(colon + 1).replace(/\r$/, '');
    matches.push({
      path: displayPath(workdir, path.posix.resolve(root, name)),
      line: Number(line.slice(0, colon)),
      text: text.length > 300 ? `${text.slice(0, 300)}…` : text,
    });
  }
  return { matches, truncated, filesSearched: candidates, binarySkipped: 0, largeSkipped: 0, timedOut: false };
}
