import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from './errors.js';
import { WithBytes } from './frames.js';
import { globMatcher } from './glob.js';
import { MAX_TRANSFER_BYTES } from './protocol.js';
import { contentSize, openRegular, readAt, readSpan } from './regular.js';
import { compilePattern, displayPath, runSearch } from './search.js';
import { sniff, SNIFF_BYTES } from './sniff.js';
import { readTextRange } from './text.js';
import { typeOf, walk, type WalkStats } from './walk.js';

const MAX_DEPTH = 64;

/**
 * File operations, run by the agent inside the sandbox's mount namespace: every path, `..` and
 * symlink resolves the way the sandbox sees it, so nothing of the host is reachable by construction.
 */
export class Files {
  /** Mount points: deleting one would empty it and then fail, so it is refused up front. */
  private readonly guarded: Set<string>;

  constructor(
    private readonly workdir: string,
    private readonly home?: string,
  ) {
    this.guarded = new Set(['/', workdir, '/tmp', ...(home ? [home] : [])]);
  }

  resolve(filePath: unknown): string {
    if (typeof filePath !== 'string' || filePath.length === 0)
      throw new AgentError(
        'INVALID_ARGUMENT',
        'path must be a non-empty string',
        'pass a path relative to the workdir or an absolute one',
      );
    if (filePath.includes('\0')) throw new AgentError('INVALID_ARGUMENT', 'path contains a NUL byte', 'remove it');
    if (this.home && (filePath === '~' || filePath.startsWith('~/'))) return path.join(this.home, filePath.slice(1));
    return path.resolve(this.workdir, filePath);
  }

  async read(args: { path: string; offset?: number; length?: number }) {
    const file = this.resolve(args.path);
    const { fh, size: statSize } = await openRegular(file);
    try {
      const size = await contentSize(fh, statSize);
      const span = readSpan(file, size, args.offset, args.length);
      return new WithBytes({ size }, 'data', await readAt(fh, span.offset, span.length));
    } finally {
      await fh.close();
    }
  }

  async readText(args: { path: string; offset?: number; limit?: number; maxBytes: number }) {
    const file = this.resolve(args.path);
    const { fh, size: statSize } = await openRegular(file);
    try {
      const size = await contentSize(fh, statSize);
      const { bytes, ...range } = await readTextRange(fh, size, {
        ...args,
        maxBytes: Math.min(args.maxBytes, MAX_TRANSFER_BYTES),
      });
      return new WithBytes({ path: file, size, ...range }, 'text', bytes);
    } finally {
      await fh.close();
    }
  }

  /**
   * Atomic: a temporary file beside the target, then rename, so readers never see half a file. A
   * symlink is followed to its target first (as editors do), resolved inside the sandbox like any path.
   */
  /** `data` arrives as raw bytes (a framed Buffer), or as base64 from older callers; `text` as UTF-8. */
  async write(args: { path: string; data?: Buffer | string; text?: string; mode?: number }) {
    // resolve() drops a trailing slash, which would turn "folder/" into a file named "folder".
    if (/\/\.?$/.test(args.path))
      throw new AgentError(
        'INVALID_ARGUMENT',
        `${args.path} ends with "/", so it names a folder, not a file`,
        'give the full file path, e.g. "folder/name.txt"',
      );
    const file = await followLinks(this.resolve(args.path));
    const dir = path.dirname(file);
    await fs.mkdir(dir, { recursive: true }).catch((errnoException: NodeJS.ErrnoException) => {
      if (errnoException.code === 'EEXIST' || errnoException.code === 'ENOTDIR')
        throw new AgentError(
          'INVALID_ARGUMENT',
          `cannot create ${file}: part of its folder path is a file, not a folder`,
          'pick another path, or move or delete that file first',
        );
      throw errnoException;
    });
    const existing = await fs.stat(file).catch(() => undefined);
    if (existing?.isDirectory())
      throw new AgentError('INVALID_ARGUMENT', `${file} is a directory`, 'write to a file path inside it');
    const mode = args.mode ?? (existing ? existing.mode & 0o7777 : 0o644);
    // Names are capped at 255 bytes: 50 characters (at most 200 bytes) keep the temporary name under it.
    const tmp = path.join(dir, `.${path.basename(file).slice(0, 50)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const body =
        args.text ??
        (typeof args.data === 'string' ? Buffer.from(args.data, 'base64') : (args.data ?? Buffer.alloc(0)));
      await fs.writeFile(tmp, body, { mode, flag: 'wx' });
      await fs.chmod(tmp, mode);
      await fs.rename(tmp, file);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      // The caller knows the file, not the temporary name beside it.
      const err = e as NodeJS.ErrnoException;
      if (err.path === tmp) err.path = file;
      throw e;
    }
    return this.stat({ path: file });
  }

  async stat(args: { path: string }) {
    const file = this.resolve(args.path);
    const st = await fs.lstat(file);
    const type = typeOf(st);
    let kind: { kind: string; mimeType?: string } | undefined;
    if (type === 'file') {
      const opened = await openRegular(file).catch(() => undefined);
      if (opened) {
        try {
          kind = sniff(await readAt(opened.fh, 0, Math.min(SNIFF_BYTES, opened.size)));
        } finally {
          await opened.fh.close();
        }
      }
    }
    return {
      path: file,
      type,
      size: st.size,
      mode: st.mode & 0o7777,
      mtime: st.mtime.toISOString(),
      atime: st.atime.toISOString(),
      ctime: st.ctime.toISOString(),
      birthtime: st.birthtime.toISOString(),
      linkTarget: type === 'symlink' ? await fs.readlink(file) : undefined,
      ...kind,
    };
  }

  async list(args: { path: string }) {
    const dir = this.resolve(args.path);
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return Promise.all(
      entries.map(async (entry) => {
        const st = await fs.lstat(path.join(dir, entry.name)).catch(() => undefined);
        return { name: entry.name, type: typeOf(entry), size: st?.size ?? 0, mtime: st?.mtime.toISOString() ?? '' };
      }),
    );
  }

  async tree(args: {
    path: string;
    depth: number;
    glob?: string;
    includeHidden?: boolean;
    includeIgnored?: boolean;
    maxEntries: number;
  }) {
    const root = this.resolve(args.path);
    const depth = intArg('depth', args.depth, 1, MAX_DEPTH);
    const maxEntries = intArg('maxEntries', args.maxEntries, 1, 1_000_000);
    const keep = globMatcher(args.glob);
    if (!(await fs.stat(root)).isDirectory())
      throw new AgentError(
        'INVALID_ARGUMENT',
        `${root} is a file, not a folder`,
        'use file_info or file_read for a file',
      );
    const stats: WalkStats = { hidden: 0, scanned: 0, exhausted: false, unreadable: 0 };
    const found: { rel: string; abs: string; skipped: boolean }[] = [];
    let truncated = false;
    for await (const item of walk(
      root,
      { depth, includeHidden: args.includeHidden, includeIgnored: args.includeIgnored },
      stats,
    )) {
      if (keep && !keep(item.rel)) continue;
      if (found.length >= maxEntries) {
        truncated = true;
        break;
      }
      found.push({ rel: item.rel, abs: item.abs, skipped: item.skipped });
    }
    const entries = await Promise.all(
      found.map(async (file) => {
        const st = await fs.lstat(file.abs).catch(() => undefined);
        const type = st ? typeOf(st) : 'other';
        return {
          path: displayPath(this.workdir, file.abs),
          type,
          size: st?.size ?? 0,
          mtime: st?.mtime.toISOString() ?? '',
          linkTarget: type === 'symlink' ? await fs.readlink(file.abs).catch(() => undefined) : undefined,
          skipped: file.skipped || undefined,
          key: file.rel.split('/'),
        };
      }),
    );
    entries.sort((x, y) => comparePaths(x.key, y.key));
    return {
      root,
      entries: entries.map(({ key: _key, ...e }) => e),
      truncated: truncated || stats.exhausted,
      hiddenCount: stats.hidden,
    };
  }

  async search(args: {
    pattern: string;
    path?: string;
    glob?: string;
    maxResults: number;
    caseSensitive: boolean;
    includeHidden?: boolean;
    timeoutMs: number;
  }) {
    if (typeof args.pattern !== 'string' || !args.pattern)
      throw new AgentError('INVALID_ARGUMENT', 'pattern must be a non-empty regex', 'e.g. "TODO|FIXME"');
    const { flags } = compilePattern(args.pattern, args.caseSensitive !== false);
    globMatcher(args.glob); // fail fast on a bad glob, before starting a worker
    const root = this.resolve(args.path ?? this.workdir);
    await fs.stat(root);
    return runSearch({
      root,
      workdir: this.workdir,
      pattern: args.pattern,
      flags,
      glob: args.glob,
      includeHidden: args.includeHidden,
      maxResults: intArg('maxResults', args.maxResults, 1, 100_000),
      deadline: Date.now() + intArg('timeoutMs', args.timeoutMs, 1, 3_600_000),
    });
  }

  async mkdir(args: { path: string }) {
    await fs.mkdir(this.resolve(args.path), { recursive: true });
  }

  async remove(args: { path: string; recursive?: boolean }) {
    const file = this.resolve(args.path);
    if (this.guarded.has(file)) {
      throw new AgentError(
        'PERMISSION_DENIED',
        `${file} is a mount point of the sandbox and cannot be deleted`,
        'delete the entries inside it instead',
      );
    }
    const st = await fs.lstat(file);
    if (st.isDirectory() && !args.recursive) {
      throw new AgentError(
        'INVALID_ARGUMENT',
        `${file} is a directory`,
        'pass recursive: true to delete it with its contents',
      );
    }
    await fs.rm(file, { recursive: !!args.recursive });
  }

  /** rename(2) where it can; across mounts (e.g. /workspace to /tmp) a copy, then the source is removed. */
  async rename(args: { from: string; to: string; overwrite?: boolean }) {
    const from = this.resolve(args.from);
    const to = this.resolve(args.to);
    const src = await fs.lstat(from);
    if (!src.isDirectory() && /\/\.?$/.test(args.to))
      throw new AgentError(
        'INVALID_ARGUMENT',
        `"to" (${args.to}) ends with "/", but ${from} is not a folder`,
        `"to" is the full new path: to move it into a folder, end "to" with the file name, e.g. "${args.to.replace(/\/\.?$/, '')}/${path.basename(from)}"`,
      );
    if (from === to) return;
    if (this.guarded.has(from))
      throw new AgentError(
        'PERMISSION_DENIED',
        `${from} is a mount point of the sandbox and cannot be moved`,
        'move the entries inside it instead',
      );
    if (src.isDirectory() && to.startsWith(`${from}/`))
      throw new AgentError(
        'INVALID_ARGUMENT',
        `cannot move the folder ${from} into itself (${to})`,
        'pick a destination outside it',
      );
    const dst = await fs.lstat(to).catch(() => undefined);
    if (dst) {
      if (!args.overwrite)
        throw new AgentError(
          'ALREADY_EXISTS',
          `${to} already exists`,
          'pass overwrite: true to replace it, or give the full new path (to move into a folder, end "to" with the file name)',
        );
      if (dst.isDirectory() && !src.isDirectory())
        throw new AgentError(
          'INVALID_ARGUMENT',
          `${to} is a folder and cannot be replaced by a file`,
          'give the full new path inside it, e.g. "folder/name"',
        );
      if (!dst.isDirectory() && src.isDirectory())
        throw new AgentError(
          'INVALID_ARGUMENT',
          `${to} is a file and cannot be replaced by a folder`,
          'delete it first with file_delete, or pick another destination',
        );
    }
    await fs.mkdir(path.dirname(to), { recursive: true });
    try {
      await fs.rename(from, to);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST')
        throw new AgentError(
          'ALREADY_EXISTS',
          `${to} is a folder that is not empty`,
          'delete it first or pick another destination',
        );
      if (code !== 'EXDEV') throw e;
      if (dst?.isDirectory() && (await fs.readdir(to)).length > 0)
        throw new AgentError(
          'ALREADY_EXISTS',
          `${to} is a folder that is not empty`,
          'delete it first or pick another destination',
        );
      if (dst) await fs.rm(to, { recursive: true });
      await fs.cp(from, to, {
        recursive: true,
        errorOnExist: true,
        force: false,
        verbatimSymlinks: true,
        preserveTimestamps: true,
      });
      await fs.rm(from, { recursive: true });
    }
  }
}

function intArg(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new AgentError('INVALID_ARGUMENT', `${name} must be a whole number from ${min} to ${max}`);
  return value;
}

function comparePaths(first: string[], second: string[]): number {
  for (let i = 0; i < Math.min(first.length, second.length); i++) {
    if (first[i] !== second[i]) return first[i]! < second[i]! ? -1 : 1;
  }
  return first.length - second.length;
}

/** The final component's symlinks, followed the sandbox's way; a dangling link yields its target path. */
async function followLinks(file: string): Promise<string> {
  for (let hops = 0; hops < 40; hops++) {
    const st = await fs.lstat(file).catch(() => undefined);
    if (!st?.isSymbolicLink()) return file;
    file = path.resolve(path.dirname(file), await fs.readlink(file));
  }
  throw new AgentError(
    'INVALID_ARGUMENT',
    `${file}: too many levels of symbolic links`,
    'a symlink points (through others) back to itself: see where with file_info, then fix or delete it',
  );
}
