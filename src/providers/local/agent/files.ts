import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from './errors.js';

/**
 * File operations, run by the agent inside the sandbox's mount namespace: every path, `..` and
 * symlink resolves the way the sandbox sees it, so nothing of the host is reachable by construction.
 */
export class Files {
  constructor(private readonly workdir: string) {}

  resolve(p: unknown): string {
    if (typeof p !== 'string' || p.length === 0) throw new AgentError('INVALID_ARGUMENT', 'path must be a non-empty string', 'pass a path relative to the workdir or an absolute one');
    if (p.includes('\0')) throw new AgentError('INVALID_ARGUMENT', 'path contains a NUL byte', 'remove it');
    return path.resolve(this.workdir, p);
  }

  async read(a: { path: string; offset?: number; length?: number }) {
    const file = this.resolve(a.path);
    const fh = await fs.open(file, 'r');
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new AgentError('INVALID_ARGUMENT', `${file} is a directory`, 'use file_list to see its entries');
      const offset = Math.min(a.offset ?? 0, st.size);
      const length = Math.min(a.length ?? st.size - offset, st.size - offset);
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return { data: buf.subarray(0, got).toString('base64'), size: st.size };
    } finally {
      await fh.close();
    }
  }

  /** Atomic: a temporary file beside the target, then rename, so readers never see half a file. */
  async write(a: { path: string; data: string; mode?: number }) {
    const file = this.resolve(a.path);
    const dir = path.dirname(file);
    await fs.mkdir(dir, { recursive: true });
    let mode = a.mode;
    if (mode === undefined) {
      const existing = await fs.stat(file).catch(() => undefined);
      if (existing?.isDirectory()) throw new AgentError('INVALID_ARGUMENT', `${file} is a directory`, 'write to a file path inside it');
      mode = existing ? existing.mode & 0o7777 : 0o644;
    }
    const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await fs.writeFile(tmp, Buffer.from(a.data, 'base64'), { mode, flag: 'wx' });
      await fs.chmod(tmp, mode);
      await fs.rename(tmp, file);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
    return this.stat({ path: file });
  }

  async stat(a: { path: string }) {
    const file = this.resolve(a.path);
    const st = await fs.lstat(file);
    const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
    return {
      path: file, type, size: st.size, mode: st.mode & 0o7777,
      mtime: st.mtime.toISOString(), atime: st.atime.toISOString(), ctime: st.ctime.toISOString(), birthtime: st.birthtime.toISOString(),
      linkTarget: type === 'symlink' ? await fs.readlink(file) : undefined,
    };
  }

  async list(a: { path: string }) {
    const dir = this.resolve(a.path);
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return Promise.all(entries.map(async (e) => {
      const st = await fs.lstat(path.join(dir, e.name)).catch(() => undefined);
      const type = e.isSymbolicLink() ? 'symlink' : e.isDirectory() ? 'directory' : e.isFile() ? 'file' : 'other';
      return { name: e.name, type, size: st?.size ?? 0, mtime: st?.mtime.toISOString() ?? '' };
    }));
  }

  async mkdir(a: { path: string }) {
    await fs.mkdir(this.resolve(a.path), { recursive: true });
  }

  async remove(a: { path: string; recursive?: boolean }) {
    const file = this.resolve(a.path);
    const st = await fs.lstat(file);
    if (st.isDirectory() && !a.recursive) {
      throw new AgentError('INVALID_ARGUMENT', `${file} is a directory`, 'pass recursive: true to delete it with its contents');
    }
    await fs.rm(file, { recursive: !!a.recursive });
  }

  async rename(a: { from: string; to: string; overwrite?: boolean }) {
    const from = this.resolve(a.from);
    const to = this.resolve(a.to);
    await fs.lstat(from);
    if (!a.overwrite && (await fs.lstat(to).catch(() => undefined))) {
      throw new AgentError('ALREADY_EXISTS', `${to} already exists`, 'pass overwrite: true to replace it, or pick another destination');
    }
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.rename(from, to);
  }
}
