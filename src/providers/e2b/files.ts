import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { EntryInfo, Sandbox as Vendor } from 'e2b';
import { SandboxError } from '../../errors.js';
import type { DirEntry, FileStat } from '../types.js';
import { resolvePath } from '../shared/paths.js';
import { VendorFiles } from '../shared/files-extended.js';
import type { VendorCall } from '../shared/remote-sandbox.js';

/** E2B's calls take `{ retry }` only (the default VendorCall options). */
type Call = VendorCall;

function toStat(entryInfo: EntryInfo): FileStat {
  const mtime = (entryInfo.modifiedTime ?? new Date(0)).toISOString();
  const type =
    entryInfo.type === 'dir'
      ? 'directory'
      : entryInfo.type === 'file'
        ? 'file'
        : entryInfo.type === 'symlink'
          ? 'symlink'
          : 'other';
  // envd reports only the modification time; the others are filled with it rather than left empty.
  return {
    path: entryInfo.path,
    type,
    size: entryInfo.size,
    mode: entryInfo.mode & 0o7777,
    mtime,
    atime: mtime,
    ctime: mtime,
    birthtime: mtime,
    linkTarget: entryInfo.symlinkTarget,
  };
}

/**
 * FilesApi over envd: contents through its HTTP /files endpoint, metadata through its filesystem
 * RPC. The local provider's semantics are kept by checking before acting: a directory is not removed
 * without `recursive`, a rename does not overwrite without `overwrite`, a write is atomic.
 */
export class E2BFiles extends VendorFiles {
  constructor(
    private readonly vendor: Vendor,
    protected readonly workdir: string,
    private readonly call: Call,
  ) {
    super();
  }

  private abs(filePath: string): string {
    return resolvePath(this.workdir, filePath);
  }

  private async entry(file: string): Promise<EntryInfo> {
    return this.call(`stat ${file}`, () => this.vendor.files.getInfo(file));
  }

  async read(filePath: string, opts?: { offset?: number; length?: number }): Promise<{ data: Buffer; size: number }> {
    const file = this.abs(filePath);
    const info = await this.entry(file);
    if (info.type === 'dir')
      throw new SandboxError('INVALID_ARGUMENT', `${file} is a directory`, {
        hint: 'use file_list to see its entries',
      });
    VendorFiles.checkWholeRead(file, info.size, opts);
    const stream = await this.call(`read ${file}`, () => this.vendor.files.read(file, { format: 'stream' }));
    try {
      return await VendorFiles.rangeOf(file, info.size, stream, opts);
    } finally {
      // Ends the download where the range ended (a no-op when the stream was read to its end).
      await stream.cancel().catch(() => undefined);
    }
  }

  async write(filePath: string, content: Buffer | string, opts?: { mode?: number }): Promise<FileStat> {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    const file = await this.extended.followLinks(filePath);
    const existing = await this.entry(file).catch((sandboxError: SandboxError) => {
      if (sandboxError.code === 'NOT_FOUND') return undefined;
      throw sandboxError;
    });
    if (existing?.type === 'dir')
      throw new SandboxError('INVALID_ARGUMENT', `${file} is a directory`, { hint: 'write to a file path inside it' });
    const mode = opts?.mode ?? (existing ? existing.mode & 0o7777 : undefined);
    // A temporary file beside the target, then a rename: readers never see half a file.
    const tmp = path.posix.join(
      path.posix.dirname(file),
      // A name is at most 255 bytes: 50 characters (at most 200 bytes) of it keep the temporary name under that.
      `.${path.posix.basename(file).slice(0, 50)}.${randomBytes(6).toString('hex')}.tmp`,
    );
    const body = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
    await this.call(`write ${file}`, () => this.vendor.files.write(tmp, body), { retry: false });
    try {
      if (mode !== undefined) {
        await this.call(
          `chmod ${file}`,
          () => this.vendor.commands.run(`chmod ${mode.toString(8)} '${tmp.replace(/'/g, `'\\''`)}'`),
          { retry: false },
        );
      }
      return toStat(await this.call(`rename ${tmp}`, () => this.vendor.files.rename(tmp, file), { retry: false }));
    } catch (e) {
      await this.vendor.files.remove(tmp).catch(() => undefined);
      throw e;
    }
  }

  protected async shell(command: string): Promise<string> {
    // No time limit: hashing or listing a big workspace takes a while; the command itself always exits 0.
    const r = await this.call('run a file script', () => this.vendor.commands.run(command, { timeoutMs: 0 }), {
      retry: false,
    });
    return r.stdout;
  }

  async rawStat(filePath: string): Promise<FileStat> {
    return toStat(await this.entry(this.abs(filePath)));
  }

  async list(filePath: string): Promise<DirEntry[]> {
    const dir = this.abs(filePath);
    const info = await this.entry(dir);
    if (info.type !== 'dir')
      throw new SandboxError('INVALID_ARGUMENT', `${dir}: a parent is not a directory`, { hint: 'pass a directory' });
    const entries = await this.call(`list ${dir}`, () => this.vendor.files.list(dir, { depth: 1 }));
    return entries.map((entryInfo) => {
      const s = toStat(entryInfo);
      return { name: entryInfo.name, type: s.type, size: s.size, mtime: s.mtime };
    });
  }

  async mkdir(filePath: string): Promise<void> {
    const dir = this.abs(filePath);
    await this.call(`mkdir ${dir}`, () => this.vendor.files.makeDir(dir));
  }

  async remove(filePath: string, opts?: { recursive?: boolean }): Promise<void> {
    const file = this.abs(filePath);
    const info = await this.entry(file);
    if (info.type === 'dir' && !opts?.recursive) {
      throw new SandboxError('INVALID_ARGUMENT', `${file} is a directory`, {
        hint: 'pass recursive: true to delete it with its contents',
      });
    }
    await this.call(`remove ${file}`, () => this.vendor.files.remove(file), { retry: false });
  }

  async rename(fromP: string, toP: string, opts?: { overwrite?: boolean }): Promise<void> {
    const from = this.abs(fromP);
    const to = this.abs(toP);
    await this.entry(from);
    if (!opts?.overwrite) {
      const target = await this.entry(to).catch((sandboxError: SandboxError) => {
        if (sandboxError.code === 'NOT_FOUND') return undefined;
        throw sandboxError;
      });
      if (target)
        throw new SandboxError('ALREADY_EXISTS', `${to} already exists`, {
          hint: 'pass overwrite: true to replace it, or pick another destination',
        });
    }
    await this.call(`rename ${from}`, () => this.vendor.files.rename(from, to), { retry: false });
  }
}
