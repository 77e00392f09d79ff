import { constants } from 'node:fs';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from './errors.js';
import { openRegular } from './regular.js';
import { typeOf } from './walk.js';

/**
 * The file operations a whole-workspace copy needs (sandbox-mcp migrate): a complete walk with modes,
 * symlinks created and never followed, chmod, appends for chunked uploads and digests computed here,
 * inside the sandbox, so file contents do not travel to be checked.
 */
export class CopyFiles {
  constructor(private readonly resolve: (p: unknown) => string) {}

  async walk(args: { path: string; maxEntries: number }) {
    const root = this.resolve(args.path);
    if (!(await fs.stat(root)).isDirectory())
      throw new AgentError('INVALID_ARGUMENT', `${root} is a file, not a folder`, 'walk a folder');
    const out: { path: string; type: string; size: number; mode: number; mtime: string; linkTarget?: string }[] = [];
    const pending = [''];
    while (pending.length) {
      const rel = pending.pop()!;
      const dir = rel ? path.join(root, rel) : root;
      for (const dirent of await fs.readdir(dir, { withFileTypes: true })) {
        if (out.length >= args.maxEntries)
          throw new AgentError(
            'LIMIT_EXCEEDED',
            `${root} holds more than ${args.maxEntries} entries`,
            'copy it in parts, or archive it first (tar) and copy the archive',
          );
        const childRel = rel ? `${rel}/${dirent.name}` : dirent.name;
        const abs = path.join(root, childRel);
        const st = await fs.lstat(abs);
        const type = typeOf(st);
        out.push({
          path: childRel,
          type,
          size: st.size,
          mode: st.mode & 0o7777,
          mtime: st.mtime.toISOString(),
          linkTarget: type === 'symlink' ? await fs.readlink(abs) : undefined,
        });
        if (type === 'directory') pending.push(childRel);
      }
    }
    return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  }

  async symlink(args: { target: string; path: string }) {
    if (typeof args.target !== 'string' || !args.target || args.target.includes('\0'))
      throw new AgentError('INVALID_ARGUMENT', 'a symlink target must be a non-empty string without NUL bytes');
    const link = this.resolve(args.path);
    await fs.mkdir(path.dirname(link), { recursive: true });
    await fs.symlink(args.target, link);
  }

  async chmod(args: { path: string; mode: number }) {
    const file = this.resolve(args.path);
    if ((await fs.lstat(file)).isSymbolicLink())
      throw new AgentError(
        'INVALID_ARGUMENT',
        `${file} is a symlink; its mode cannot be set`,
        'set the mode of what it points to',
      );
    await fs.chmod(file, args.mode & 0o7777);
  }

  async append(args: { path: string; data?: Buffer }) {
    const file = this.resolve(args.path);
    await fs.mkdir(path.dirname(file), { recursive: true });
    // O_NOFOLLOW: a symlink swapped in at the path is refused (ELOOP), not written through.
    const fh = await fs
      .open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
      .catch((errnoException: NodeJS.ErrnoException) => {
        if (errnoException.code === 'ELOOP')
          throw new AgentError(
            'INVALID_ARGUMENT',
            `${file} is a symlink; appends never follow one`,
            'append to a regular file',
          );
        throw errnoException;
      });
    try {
      if (!(await fh.stat()).isFile())
        throw new AgentError('INVALID_ARGUMENT', `${file} is not a regular file`, 'append to a regular file');
      await fh.write(args.data ?? Buffer.alloc(0));
    } finally {
      await fh.close();
    }
  }

  async sha256(args: { paths: string[] }) {
    const out: string[] = [];
    for (const p of args.paths) {
      const file = this.resolve(p);
      if ((await fs.lstat(file)).isSymbolicLink())
        throw new AgentError('INVALID_ARGUMENT', `${file} is a symlink, not a regular file`, 'hash regular files only');
      const { fh } = await openRegular(file);
      try {
        const hash = createHash('sha256');
        for await (const chunk of fh.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
        out.push(hash.digest('hex'));
      } finally {
        await fh.close();
      }
    }
    return out;
  }
}
