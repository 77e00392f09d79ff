import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { SandboxError } from '../../errors.js';
import { translateAgentError } from './agent-errors.js';
import { cloudScriptRunner, ScriptedCopyFiles, type CopyOps } from './copy-files.js';
import { globMatcher } from '../../agent/glob.js';
import { MAX_TRANSFER_BYTES } from '../../agent/protocol.js';
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
  TreeOptions,
  TreeResult,
  WalkEntry,
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

/** Breadth-first, names sorted, symlinks never followed: the local walk's order and rules. */
async function* walk(
  files: PrimitiveFiles,
  root: string,
  options: { depth: number; includeHidden?: boolean; includeIgnored?: boolean },
  stats: { hidden: number; scanned: number; exhausted: boolean },
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

export interface ExtendedFiles extends Pick<FilesApi, 'readText' | 'tree' | 'search' | 'stat'> {
  /** The path a write lands on: the final symlink followed the sandbox's way (as the local agent does). */
  followLinks(p: string): Promise<string>;
}

/** `files.stat` is the vendor's raw stat; the returned `stat` adds the file's kind, as local does. */
export function extendFiles(files: PrimitiveFiles, workdir: string): ExtendedFiles {
  const resolve = (p: string) => path.posix.resolve(workdir, p);
  return {
    stat: async (filePath: string): Promise<FileStat> => {
      const st = await files.stat(filePath);
      if (st.type !== 'file') return st;
      const head = await files.read(filePath, { length: SNIFF_BYTES }).then(
        (r) => r.data,
        () => undefined,
      );
      return head ? { ...st, ...sniff(head) } : st;
    },

    followLinks: async (filePath: string): Promise<string> => {
      let file = resolve(filePath);
      for (let hops = 0; hops < 40; hops++) {
        const st = await files.stat(file).catch(() => undefined);
        if (st?.type !== 'symlink' || !st.linkTarget) return file;
        file = path.posix.resolve(path.posix.dirname(file), st.linkTarget);
      }
      throw new SandboxError('INVALID_ARGUMENT', `${file}: too many levels of symbolic links`);
    },

    readText: (filePath: string, opts: ReadTextOptions): Promise<ReadTextResult> =>
      translated(async () => {
        const file = resolve(filePath);
        const st = await files.stat(file);
        if (st.type === 'directory')
          throw new SandboxError('INVALID_ARGUMENT', `${file} is a directory`, {
            hint: 'use file_list to see its entries',
          });
        const { data } = await files.read(file);
        const { bytes, ...range } = await readTextRange(bufferHandle(data), data.length, opts);
        return { path: file, size: data.length, ...range, text: bytes.toString('utf8') };
      }),

    tree: (filePath: string, opts: TreeOptions): Promise<TreeResult> =>
      translated(async () => {
        const root = resolve(filePath);
        const depth = intArg('depth', opts.depth, 1, MAX_DEPTH);
        const maxEntries = intArg('maxEntries', opts.maxEntries, 1, 1_000_000);
        const keep = globMatcher(opts.glob);
        if ((await files.stat(root)).type !== 'directory')
          throw new SandboxError('INVALID_ARGUMENT', `${root} is a file, not a folder`, {
            hint: 'use file_info or file_read for a file',
          });
        const stats = { hidden: 0, scanned: 0, exhausted: false };
        const found: (Walked & { key: string[] })[] = [];
        let truncated = false;
        for await (const item of walk(
          files,
          root,
          { depth, includeHidden: opts.includeHidden, includeIgnored: opts.includeIgnored },
          stats,
        )) {
          if (keep && !keep(item.rel)) continue;
          if (found.length >= maxEntries) {
            truncated = true;
            break;
          }
          found.push({ ...item, key: item.rel.split('/') });
        }
        found.sort((x, y) => comparePaths(x.key, y.key));
        const entries = await Promise.all(
          found.map(async (file) => ({
            path: displayPath(workdir, file.abs),
            type: file.entry.type,
            size: file.entry.size,
            mtime: file.entry.mtime,
            linkTarget:
              file.entry.type === 'symlink'
                ? (await files.stat(file.abs).catch(() => undefined))?.linkTarget
                : undefined,
            skipped: file.skipped || undefined,
          })),
        );
        return { root, entries, truncated: truncated || stats.exhausted, hiddenCount: stats.hidden };
      }),

    search: (pattern: string, opts: SearchOptions): Promise<SearchResult> =>
      translated(async () => {
        if (!pattern)
          throw new SandboxError('INVALID_ARGUMENT', 'pattern must be a non-empty regex', {
            hint: 'e.g. "TODO|FIXME"',
          });
        const re = new RegExp(pattern, compilePattern(pattern, opts.caseSensitive !== false).flags);
        const keep = globMatcher(opts.glob);
        const root = resolve(opts.path ?? workdir);
        const st = await files.stat(root);
        const deadline = Date.now() + opts.timeoutMs;
        const out: SearchOutcome = {
          matches: [],
          truncated: false,
          filesSearched: 0,
          binarySkipped: 0,
          largeSkipped: 0,
          timedOut: false,
        };
        const stats = { hidden: 0, scanned: 0, exhausted: false };
        const candidates =
          st.type === 'directory'
            ? walk(files, root, { depth: MAX_DEPTH, includeHidden: opts.includeHidden }, stats)
            : (async function* () {
                yield {
                  abs: root,
                  rel: path.posix.basename(root),
                  entry: { name: path.posix.basename(root), type: st.type, size: st.size, mtime: st.mtime },
                  skipped: false,
                };
              })();
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
          const data = await files.read(item.abs, { length: MAX_SEARCH_FILE_BYTES + 1 }).then(
            (r) => r.data,
            () => undefined,
          );
          if (data && data.length > MAX_SEARCH_FILE_BYTES) {
            out.largeSkipped++;
            continue;
          }
          if (data && !searchBuffer(data, displayPath(workdir, item.abs), re, opts.maxResults, out)) break;
        }
        return out;
      }),
  };
}

function tooLarge(file: string, size: number): SandboxError {
  return new SandboxError(
    'LIMIT_EXCEEDED',
    `${file}${size ? ` is ${size} bytes,` : ' holds'} more than the ${MAX_TRANSFER_BYTES} bytes one read moves`,
    {
      hint: 'read it in ranges (file_read with offset and limit), or work on it with shell_exec (head, tail, sed -n, split)',
    },
  );
}

function comparePaths(first: string[], second: string[]): number {
  for (let i = 0; i < Math.min(first.length, second.length); i++) {
    if (first[i] !== second[i]) return first[i]! < second[i]! ? -1 : 1;
  }
  return first.length - second.length;
}

/**
 * Base of the vendor file adapters (E2B, Daytona): a subclass gives the primitive operations and the
 * raw vendor stat; this adds the file kind to stat, and readText, tree and search, as local has them.
 */
export abstract class VendorFiles implements FilesApi {
  protected abstract readonly workdir: string;
  private extendedApi?: ExtendedFiles;

  abstract read(path: string, opts?: { offset?: number; length?: number }): Promise<{ data: Buffer; size: number }>;
  abstract write(path: string, data: Buffer | string, opts?: { mode?: number }): Promise<FileStat>;
  abstract list(path: string): Promise<DirEntry[]>;
  abstract mkdir(path: string): Promise<void>;
  abstract remove(path: string, opts?: { recursive?: boolean }): Promise<void>;
  abstract rename(from: string, to: string, opts?: { overwrite?: boolean }): Promise<void>;
  /** The vendor's stat, without sniffing the content (walks call it for every entry). */
  abstract rawStat(path: string): Promise<FileStat>;
  /** Runs one shell command line in the sandbox and returns its stdout (a non-zero exit is not an error). */
  protected abstract shell(command: string): Promise<string>;
  private copyOps?: CopyOps;

  private get copy(): CopyOps {
    return (this.copyOps ??= new ScriptedCopyFiles(
      (p) => path.posix.resolve(this.workdir, p),
      cloudScriptRunner({ exec: (c) => this.shell(c), files: this }),
    ));
  }

  walk(filePath: string, opts: { maxEntries: number }): Promise<WalkEntry[]> {
    return this.copy.walk(filePath, opts);
  }

  symlink(target: string, filePath: string): Promise<void> {
    return this.copy.symlink(target, filePath);
  }

  chmod(filePath: string, mode: number): Promise<void> {
    return this.copy.chmod(filePath, mode);
  }

  append(filePath: string, data: Buffer): Promise<void> {
    return this.copy.append(filePath, data);
  }

  sha256(paths: string[]): Promise<string[]> {
    return this.copy.sha256(paths);
  }

  /**
   * The byte range a read asked for, taken from the vendor's download stream, which is dropped as soon
   * as the range is in: a huge file, a device or a kernel file of endless content is never buffered
   * whole. `size` is the vendor's stat size (0 for kernel files: then what the stream held).
   */
  /** Refuses up front a whole read the vendor says is over the cap, before any download starts. */
  protected static checkWholeRead(file: string, size: number, opts?: { offset?: number; length?: number }): void {
    if (opts?.length === undefined && size - Math.max(0, opts?.offset ?? 0) > MAX_TRANSFER_BYTES)
      throw tooLarge(file, size);
  }

  protected static async rangeOf(
    file: string,
    size: number,
    source: AsyncIterable<Uint8Array>,
    opts?: { offset?: number; length?: number },
  ): Promise<{ data: Buffer; size: number }> {
    const from = Math.max(0, opts?.offset ?? 0);
    const whole = opts?.length === undefined;
    if (whole && size - from > MAX_TRANSFER_BYTES) throw tooLarge(file, size);
    const want = whole ? MAX_TRANSFER_BYTES + 1 : Math.max(0, Math.min(opts.length!, MAX_TRANSFER_BYTES));
    const kept: Buffer[] = [];
    let seen = 0;
    let keptBytes = 0;
    let ended = true;
    for await (const chunk of source) {
      const c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const start = Math.max(0, from - seen);
      seen += c.length;
      if (start < c.length) {
        const piece = c.subarray(start, start + want - keptBytes);
        kept.push(piece);
        keptBytes += piece.length;
      }
      if (keptBytes >= want) {
        ended = false;
        break;
      }
    }
    if (whole && keptBytes > MAX_TRANSFER_BYTES) throw tooLarge(file, size);
    return { data: Buffer.concat(kept, keptBytes), size: size > 0 ? size : ended ? seen : from + keptBytes };
  }

  protected get extended(): ExtendedFiles {
    return (this.extendedApi ??= extendFiles(
      { read: (p, o) => this.read(p, o), list: (p) => this.list(p), stat: (p) => this.rawStat(p) },
      this.workdir,
    ));
  }

  stat(filePath: string): Promise<FileStat> {
    return this.extended.stat(filePath);
  }

  readText(filePath: string, opts: ReadTextOptions): Promise<ReadTextResult> {
    return this.extended.readText(filePath, opts);
  }

  tree(filePath: string, opts: TreeOptions): Promise<TreeResult> {
    return this.extended.tree(filePath, opts);
  }

  search(pattern: string, opts: SearchOptions): Promise<SearchResult> {
    return this.extended.search(pattern, opts);
  }
}
