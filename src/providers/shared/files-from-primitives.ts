import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { SandboxError } from '../../errors.js';
import { translateAgentError } from './agent-errors.js';
import { globMatcher } from '../../agent/glob.js';
import {
  compilePattern,
  displayPath,
  MAX_SEARCH_FILE_BYTES,
  searchBuffer,
  type SearchOutcome,
} from '../../agent/search.js';
import { sniff, SNIFF_BYTES } from '../../agent/sniff.js';
import { readTextRange } from '../../agent/text.js';
import { IGNORED_DIRS, MAX_SCANNED, SYSTEM_DIRS } from '../../agent/walk.js';
import type {
  DirEntry,
  FilesApi,
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
 * readText, tree and search for providers whose vendor API only offers primitive file operations
 * (E2B, Daytona): the same semantics as the local agent's, computed on the server over list/stat/read.
 * The pure helpers are the local agent's own (they import nothing but Node built-ins), so every
 * provider pages, sniffs, globs and matches the same way. Costs one vendor call per folder and file.
 */
export type PrimitiveFiles = Pick<FilesApi, 'read' | 'stat' | 'list'>;

const MAX_DEPTH = 64;

/** The helpers throw AgentError (the local agent's wire error); providers speak SandboxError. */
async function translated<T>(callback: () => Promise<T>): Promise<T> {
  try {
    return await callback();
  } catch (e) {
    throw translateAgentError(e);
  }
}

function intArg(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new SandboxError('INVALID_ARGUMENT', `${name} must be a whole number from ${min} to ${max}`);
  return value;
}

/** A read-only FileHandle over a Buffer: readTextRange only ever calls read(). */
function bufferHandle(data: Buffer): FileHandle {
  return {
    read: async (buffer: Buffer, offset: number, length: number, position: number) => ({
      bytesRead: data.copy(buffer, offset, position, position + length),
      buffer,
    }),
  } as unknown as FileHandle;
}

interface Walked {
  abs: string;
  rel: string;
  entry: DirEntry;
  skipped: boolean;
}

interface WalkStats {
  hidden: number;
  scanned: number;
  exhausted: boolean;
}

/** Breadth-first, names sorted, symlinks never followed: the local walk's order and rules. */
async function* walk(
  files: PrimitiveFiles,
  root: string,
  options: { depth: number; includeHidden?: boolean; includeIgnored?: boolean },
  stats: WalkStats,
): AsyncGenerator<Walked> {
  let level = [{ abs: root, rel: '' }];
  for (let depth = 1; depth <= options.depth && level.length; depth++) {
    const next: typeof level = [];
    for (const dir of level) {
      const entries = await files.list(dir.abs).catch(() => [] as DirEntry[]);
      entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      for (const entry of entries) {
        if (++stats.scanned > MAX_SCANNED) {
          stats.exhausted = true;
          return;
        }
        if (!options.includeHidden && entry.name.startsWith('.')) {
          stats.hidden++;
          continue;
        }
        const rel = dir.rel ? `${dir.rel}/${entry.name}` : entry.name;
        const abs = path.posix.join(dir.abs, entry.name);
        const skipped =
          entry.type === 'directory' &&
          (SYSTEM_DIRS.has(abs) || (!options.includeIgnored && IGNORED_DIRS.has(entry.name)));
        yield { abs, rel, entry, skipped };
        if (entry.type === 'directory' && !skipped) next.push({ abs, rel });
      }
    }
    level = next;
  }
}

/** A search of one file is the walk of that file alone, so both go through the same loop. */
async function* single(root: string, st: FileStat): AsyncGenerator<Walked> {
  yield {
    abs: root,
    rel: path.posix.basename(root),
    entry: { name: path.posix.basename(root), type: st.type, size: st.size, mtime: st.mtime },
    skipped: false,
  };
}

interface SearchLimits {
  re: RegExp;
  keep: ReturnType<typeof globMatcher>;
  /** Date.now() past which the search stops and says it timed out. */
  deadline: number;
  maxResults: number;
}

function comparePaths(first: string[], second: string[]): number {
  for (let i = 0; i < Math.min(first.length, second.length); i++) {
    if (first[i] !== second[i]) return first[i]! < second[i]! ? -1 : 1;
  }
  return first.length - second.length;
}

export interface ExtendedFiles extends Pick<FilesApi, 'readText' | 'tree' | 'search' | 'stat'> {
  /** The path a write lands on: the final symlink followed the sandbox's way (as the local agent does). */
  followLinks(p: string): Promise<string>;
}

class FilesFromPrimitives implements ExtendedFiles {
  constructor(
    private readonly files: PrimitiveFiles,
    private readonly workdir: string,
  ) {}

  private resolve(filePath: string): string {
    return path.posix.resolve(this.workdir, filePath);
  }

  async stat(filePath: string): Promise<FileStat> {
    const st = await this.files.stat(filePath);
    if (st.type !== 'file') return st;
    const head = await this.files.read(filePath, { length: SNIFF_BYTES }).then(
      (r) => r.data,
      () => undefined,
    );
    return head ? { ...st, ...sniff(head) } : st;
  }

  async followLinks(filePath: string): Promise<string> {
    let file = this.resolve(filePath);
    for (let hops = 0; hops < 40; hops++) {
      const st = await this.files.stat(file).catch(() => undefined);
      if (st?.type !== 'symlink' || !st.linkTarget) return file;
      file = path.posix.resolve(path.posix.dirname(file), st.linkTarget);
    }
    throw new SandboxError('INVALID_ARGUMENT', `${file}: too many levels of symbolic links`);
  }

  readText(filePath: string, opts: ReadTextOptions): Promise<ReadTextResult> {
    return translated(async () => {
      const file = this.resolve(filePath);
      const st = await this.files.stat(file);
      if (st.type === 'directory')
        throw new SandboxError('INVALID_ARGUMENT', `${file} is a directory`, {
          hint: 'use file_list to see its entries',
        });
      const { data } = await this.files.read(file);
      const { bytes, ...range } = await readTextRange(bufferHandle(data), data.length, opts);
      return { path: file, size: data.length, ...range, text: bytes.toString('utf8') };
    });
  }

  tree(filePath: string, opts: TreeOptions): Promise<TreeResult> {
    return translated(async () => {
      const root = this.resolve(filePath);
      const depth = intArg('depth', opts.depth, 1, MAX_DEPTH);
      const maxEntries = intArg('maxEntries', opts.maxEntries, 1, 1_000_000);
      const keep = globMatcher(opts.glob);
      if ((await this.files.stat(root)).type !== 'directory')
        throw new SandboxError('INVALID_ARGUMENT', `${root} is a file, not a folder`, {
          hint: 'use file_info or file_read for a file',
        });
      const stats: WalkStats = { hidden: 0, scanned: 0, exhausted: false };
      const found: (Walked & { key: string[] })[] = [];
      let truncated = false;
      const options = { depth, includeHidden: opts.includeHidden, includeIgnored: opts.includeIgnored };
      for await (const item of walk(this.files, root, options, stats)) {
        if (keep && !keep(item.rel)) continue;
        if (found.length >= maxEntries) {
          truncated = true;
          break;
        }
        found.push({ ...item, key: item.rel.split('/') });
      }
      found.sort((x, y) => comparePaths(x.key, y.key));
      const entries = await Promise.all(found.map((file) => this.treeEntry(file)));
      return { root, entries, truncated: truncated || stats.exhausted, hiddenCount: stats.hidden };
    });
  }

  private async treeEntry(file: Walked): Promise<TreeEntry> {
    return {
      path: displayPath(this.workdir, file.abs),
      type: file.entry.type,
      size: file.entry.size,
      mtime: file.entry.mtime,
      linkTarget:
        file.entry.type === 'symlink'
          ? (await this.files.stat(file.abs).catch(() => undefined))?.linkTarget
          : undefined,
      skipped: file.skipped || undefined,
    };
  }

  search(pattern: string, opts: SearchOptions): Promise<SearchResult> {
    return translated(async () => {
      if (!pattern)
        throw new SandboxError('INVALID_ARGUMENT', 'pattern must be a non-empty regex', {
          hint: 'e.g. "TODO|FIXME"',
        });
      const re = new RegExp(pattern, compilePattern(pattern, opts.caseSensitive !== false).flags);
      const keep = globMatcher(opts.glob);
      const root = this.resolve(opts.path ?? this.workdir);
      const st = await this.files.stat(root);
      const deadline = Date.now() + opts.timeoutMs;
      const stats: WalkStats = { hidden: 0, scanned: 0, exhausted: false };
      const candidates =
        st.type === 'directory'
          ? walk(this.files, root, { depth: MAX_DEPTH, includeHidden: opts.includeHidden }, stats)
          : single(root, st);
      return this.searchFiles(candidates, { re, keep, deadline, maxResults: opts.maxResults });
    });
  }

  private async searchFiles(
    candidates: AsyncGenerator<Walked>,
    { re, keep, deadline, maxResults }: SearchLimits,
  ): Promise<SearchOutcome> {
    const out: SearchOutcome = {
      matches: [],
      truncated: false,
      filesSearched: 0,
      binarySkipped: 0,
      largeSkipped: 0,
      timedOut: false,
    };
    for await (const item of candidates) {
      if (item.entry.type !== 'file' || (keep && !keep(item.rel))) continue;
      if (Date.now() > deadline) {
        out.timedOut = true;
        break;
      }
      if (item.entry.size > MAX_SEARCH_FILE_BYTES) {
        out.largeSkipped++;
        continue;
      }
      // One byte over the cap tells a file that only reported a small size (a kernel file) is too big.
      const data = await this.files.read(item.abs, { length: MAX_SEARCH_FILE_BYTES + 1 }).then(
        (r) => r.data,
        () => undefined,
      );
      if (data && data.length > MAX_SEARCH_FILE_BYTES) {
        out.largeSkipped++;
        continue;
      }
      if (data && !searchBuffer(data, displayPath(this.workdir, item.abs), re, maxResults, out)) break;
    }
    return out;
  }
}

/** `files.stat` is the vendor's raw stat; the returned `stat` adds the file's kind, as local does. */
export function extendFiles(files: PrimitiveFiles, workdir: string): ExtendedFiles {
  return new FilesFromPrimitives(files, workdir);
}
