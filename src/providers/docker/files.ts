import path from 'node:path';
import { SandboxError } from '../../errors.js';
import { copyScript, ScriptedCopyFiles, type CopyOps } from '../shared/copy-files.js';
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
import { MAX_TRANSFER_BYTES } from '../../agent/protocol.js';
import { sniff } from '../../agent/sniff.js';
import { MAX_SCANNED } from '../../agent/walk.js';
import { helperError } from '../shared/helper-errors.js';
import { scriptFile } from '../shared/script-file.js';
import type { ContainerExec } from './exec.js';
import { jsToPcre } from './regex.js';
import {
  parseSearch,
  parseTree,
  READ_TEXT_MAX_BYTES,
  SEARCH_DEPTH_MAX,
  searchArgs,
  textOf,
  walkArgs,
} from './files-walk.js';

/**
 * File operations as small bash + coreutils scripts exec'd in the container as the sandbox user, not
 * through the engine's archive API: every path, `..` and symlink resolves the way the sandbox sees it
 * (a symlink to / reaches the container's own root, never the host's), permissions are the sandbox
 * user's, and the read-only root and the tmpfs mounts behave as they do for commands. (putArchive would
 * write as root, bypass those permissions and cannot write into tmpfs mounts.) The operations are
 * scripts/files.sh.
 */
const filesScript = scriptFile(new URL('./scripts/files.sh', import.meta.url));
type FilesOp = 'read' | 'write' | 'stat' | 'list' | 'mkdir' | 'remove' | 'rename' | 'tree' | 'search';

/** A walk stops at MAX_SCANNED records anyway: find is stopped just past them instead of listing millions. */
const MAX_TREE_RECORDS = String(MAX_SCANNED + 1);

const TYPES: Record<number, FileStat['type']> = { 0o100000: 'file', 0o040000: 'directory', 0o120000: 'symlink' };
const FIND_TYPES: Record<string, FileStat['type']> = { f: 'file', d: 'directory', l: 'symlink' };

/** "2026-11-29 01:12:00.123456789 +0000" (TZ=UTC) -> ISO; "-" (unknown birth time) -> undefined. */
function isoTime(statTime: string | undefined): string | undefined {
  const m = statTime?.match(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? ([+-]\d{4})$/);
  if (!m) return undefined;
  return new Date(`${m[1]}T${m[2]}${(m[3] ?? '.0').slice(0, 4)}${m[4]!.slice(0, 3)}:${m[4]!.slice(3)}`).toISOString();
}

function parseStat(file: string, raw: Buffer): FileStat {
  const nl1 = raw.indexOf(10);
  const nl2 = raw.indexOf(10, nl1 + 1);
  const line = raw.subarray(0, nl1).toString();
  const link = nl2 > nl1 ? raw.subarray(nl1 + 1, nl2).toString() : '';
  const head = nl2 > 0 ? raw.subarray(nl2 + 1) : Buffer.alloc(0);
  const [rawMode, size, atime, mtime, ctime, birth] = line.split('\t');
  const mode = parseInt(rawMode ?? '0', 16);
  const type = TYPES[mode & 0o170000] ?? 'other';
  const mt = isoTime(mtime) ?? new Date(0).toISOString();
  return {
    path: file,
    type,
    size: Number(size),
    mode: mode & 0o7777,
    mtime: mt,
    atime: isoTime(atime) ?? mt,
    ctime: isoTime(ctime) ?? mt,
    birthtime: isoTime(birth) ?? isoTime(ctime) ?? mt,
    linkTarget: type === 'symlink' ? link : undefined,
    ...(type === 'file' ? sniff(head) : {}),
  };
}

/** A whole-tree listing of a big workspace is larger than one file read; sha256 of big files takes a while. */
const COPY_MAX_STDOUT = 256 << 20;
const COPY_TIMEOUT_MS = 30 * 60_000;

export class DockerFiles implements FilesApi {
  private readonly copy: CopyOps;

  constructor(private readonly runner: ContainerExec) {
    this.copy = new ScriptedCopyFiles(
      (p) => this.resolve(p),
      async (script, args, stdin) => {
        const r = await this.runner.helper(copyScript(script), args, {
          stdin,
          maxStdoutBytes: COPY_MAX_STDOUT,
          timeoutMs: COPY_TIMEOUT_MS,
        });
        if (r.exitCode !== 0) throw helperError(r.stderr, r.exitCode, args[0] ?? script);
        return r.stdout;
      },
    );
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

  private resolve(filePath: unknown): string {
    if (typeof filePath !== 'string' || filePath.length === 0)
      throw new SandboxError('INVALID_ARGUMENT', 'path must be a non-empty string', {
        hint: 'pass a path relative to the workdir or an absolute one',
      });
    if (filePath.includes('\0'))
      throw new SandboxError('INVALID_ARGUMENT', 'path contains a NUL byte', { hint: 'remove it' });
    return path.posix.resolve(this.runner.workdir, filePath);
  }

  private async run(operation: FilesOp, file: string, args: string[], stdin?: Buffer) {
    const r = await this.runner.helper(filesScript(), [operation, ...args], { stdin });
    if (r.exitCode !== 0) throw helperError(r.stderr, r.exitCode, file);
    return r.stdout;
  }

  async read(
    filePath: string,
    opts: { offset?: number; length?: number } = {},
  ): Promise<{ data: Buffer; size: number }> {
    const file = this.resolve(filePath);
    const length = opts.length === undefined ? '' : String(Math.max(0, Math.min(opts.length, MAX_TRANSFER_BYTES)));
    const out = await this.run('read', file, [
      file,
      String(Math.max(0, opts.offset ?? 0)),
      length,
      String(MAX_TRANSFER_BYTES),
    ]);
    const nl = out.indexOf(10);
    const size = Number(out.subarray(0, nl).toString());
    const data = out.subarray(nl + 1);
    // A file that grew past the cap (or a kernel file reporting size 0) while it was read.
    if (data.length > MAX_TRANSFER_BYTES)
      throw new SandboxError(
        'LIMIT_EXCEEDED',
        `${file} holds more than the ${MAX_TRANSFER_BYTES} bytes one read moves`,
        { hint: 'read it in ranges (file_read with offset and limit), or work on it with shell_exec' },
      );
    // Most of /proc and /sys report size 0 yet have content: their size is what reading them found.
    return { size: size === 0 && !opts.offset ? data.length : size, data };
  }

  async write(filePath: string, data: Buffer | string, opts: { mode?: number } = {}): Promise<FileStat> {
    const file = this.resolve(filePath);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const out = await this.run(
      'write',
      file,
      [file, opts.mode === undefined ? '' : (opts.mode & 0o7777).toString(8)],
      bytes,
    );
    return parseStat(file, out);
  }

  async stat(filePath: string): Promise<FileStat> {
    const file = this.resolve(filePath);
    return parseStat(file, await this.run('stat', file, [file]));
  }

  async list(filePath: string): Promise<DirEntry[]> {
    const dir = this.resolve(filePath);
    const out = (await this.run('list', dir, [dir])).toString();
    return out
      .split('\0')
      .filter(Boolean)
      .map((rec) => {
        const [t = '', size, mtime, ...name] = rec.split('\t');
        return {
          name: name.join('\t'),
          type: FIND_TYPES[t] ?? 'other',
          size: Number(size),
          mtime: new Date(Number(mtime) * 1000).toISOString(),
        };
      });
  }

  async readText(filePath: string, readTextOptions: ReadTextOptions): Promise<ReadTextResult> {
    const file = this.resolve(filePath);
    const { data, size } = await this.read(file, { length: READ_TEXT_MAX_BYTES });
    if (size > READ_TEXT_MAX_BYTES) {
      throw new SandboxError(
        'LIMIT_EXCEEDED',
        `${file} is ${size} bytes, more than the ${READ_TEXT_MAX_BYTES} the docker provider reads as text`,
        { hint: 'read parts of it with a shell command, e.g. sed -n "100,200p" FILE' },
      );
    }
    return textOf(file, data, size, readTextOptions);
  }

  async tree(filePath: string, treeOptions: TreeOptions): Promise<TreeResult> {
    const root = this.resolve(filePath);
    const depth = Math.max(1, Math.min(SEARCH_DEPTH_MAX, Math.floor(treeOptions.depth)));
    const out = await this.run('tree', root, [root, MAX_TREE_RECORDS, ...walkArgs(root, depth, treeOptions)]);
    return parseTree(root, this.runner.workdir, out.toString(), treeOptions);
  }

  async search(pattern: string, searchOptions: SearchOptions): Promise<SearchResult> {
    const { flags: jsFlags } = searchArgs(pattern, searchOptions);
    const root = this.resolve(searchOptions.path ?? this.runner.workdir);
    const st = await this.stat(root);
    let list = Buffer.alloc(0);
    let candidates = 1;
    let empty = new Set<string>();
    if (st.type === 'directory') {
      const found = await this.run('tree', root, [
        root,
        MAX_TREE_RECORDS,
        ...walkArgs(root, SEARCH_DEPTH_MAX, { includeHidden: searchOptions.includeHidden }, true),
      ]);
      const { globMatcher } = await import('../../agent/glob.js');
      const keep = globMatcher(searchOptions.glob);
      // Breadth-first, names sorted, like the local walk: matches come out in the same order.
      const records = found
        .toString()
        .split('\0')
        .filter((r) => r.startsWith('F'))
        .map((r) => r.slice(1).split('\t'));
      empty = new Set(records.filter(([size]) => size === '0').map(([, f]) => f));
      const files = records
        .map(([, f = '']) => f)
        .filter((f) => !keep || keep(f))
        .map((f) => ({ f, key: f.split('/') }))
        .sort((a, b) => a.key.length - b.key.length || (a.f < b.f ? -1 : a.f > b.f ? 1 : 0))
        .map((x) => x.f);
      candidates = files.length;
      if (!files.length)
        return { matches: [], truncated: false, filesSearched: 0, binarySkipped: 0, largeSkipped: 0, timedOut: false };
      list = Buffer.from(files.map((f) => `${f}\0`).join(''));
    }
    const secs = String(Math.max(1, Math.ceil(searchOptions.timeoutMs / 1000)));
    const flags = searchOptions.caseSensitive === false ? '-Pi' : '-P';
    const out = await this.run(
      'search',
      root,
      [root, secs, String(searchOptions.maxResults + 1), flags, jsToPcre(pattern, jsFlags.includes('u'))],
      list,
    );
    const marker = out.indexOf('\n\0BINARY\0');
    const binary =
      marker < 0
        ? 0
        : out
            .subarray(marker + 9)
            .toString()
            .split('\0')
            .filter((f) => f && !empty.has(f)).length;
    const r = parseSearch(
      st.type === 'directory' ? root : path.posix.dirname(root),
      this.runner.workdir,
      marker < 0 ? out : out.subarray(0, marker),
      candidates - binary,
      searchOptions.maxResults,
    );
    return { ...r, binarySkipped: binary, timedOut: out.includes('\ntimedout\n') };
  }

  async mkdir(filePath: string): Promise<void> {
    const dir = this.resolve(filePath);
    await this.run('mkdir', dir, [dir]);
  }

  async remove(filePath: string, opts: { recursive?: boolean } = {}): Promise<void> {
    const file = this.resolve(filePath);
    await this.run('remove', file, [file, opts.recursive ? '1' : '']);
  }

  async rename(from: string, to: string, opts: { overwrite?: boolean } = {}): Promise<void> {
    const a = this.resolve(from);
    const b = this.resolve(to);
    await this.run('rename', a, [a, b, opts.overwrite ? '1' : '']);
  }
}
