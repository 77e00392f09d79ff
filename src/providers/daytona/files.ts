import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { FileInfo, Sandbox as Vendor } from '@daytonaio/sdk';
import { SandboxError } from '../../errors.js';
import { resolvePath } from '../shared/paths.js';
import { shellQuote as q } from '../shared/remote-processes.js';
import type { DirEntry, FileStat } from '../types.js';
import type { Call } from './processes.js';
import { VendorFiles } from '../shared/files-extended.js';
import { scriptFile } from '../shared/script-file.js';

/** scripts/install-temp.sh MODE TEMP FILE: an uploaded temporary file given its mode and renamed into place. */
const installTempScript = scriptFile(new URL('./scripts/install-temp.sh', import.meta.url));

/** Daytona reports permissions as octal text ("0644") and mode as "-rw-r--r--"; either gives the bits. */
function modeOf(fileInfo: FileInfo): number {
  if (/^0?[0-7]{3,4}$/.test(fileInfo.permissions ?? '')) return parseInt(fileInfo.permissions, 8);
  const m = /^[-dlcbps]?([-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT])$/.exec(fileInfo.mode ?? '');
  if (!m) return 0;
  return [...m[1]!].reduce((acc, ch) => (acc << 1) | (ch === '-' || ch === 'S' || ch === 'T' ? 0 : 1), 0);
}

function toStat(file: string, fileInfo: FileInfo): FileStat {
  const t = new Date(fileInfo.modifiedAt || fileInfo.modTime || 0);
  const mtime = Number.isNaN(t.getTime()) ? new Date(0).toISOString() : t.toISOString();
  // Daytona reports only the modification time; the others are filled with it rather than left empty.
  return {
    path: file,
    type: fileInfo.isDir ? 'directory' : 'file',
    size: fileInfo.size,
    mode: modeOf(fileInfo),
    mtime,
    atime: mtime,
    ctime: mtime,
    birthtime: mtime,
  };
}

/**
 * FilesApi over Daytona's toolbox file endpoints. Contents go up as a Buffer (a string source would
 * be read as a LOCAL path by the SDK) and are moved into place with `mv -f`, because Daytona's own
 * move never overwrites: the write stays atomic.
 */
export class DaytonaFiles extends VendorFiles {
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

  private details(file: string): Promise<FileInfo> {
    return this.call(`stat ${file}`, () => this.vendor.fs.getFileDetails(file), { scope: 'toolbox' });
  }

  private async detailsIfAny(file: string): Promise<FileInfo | undefined> {
    return this.details(file).catch((sandboxError: SandboxError) => {
      if (sandboxError.code === 'NOT_FOUND') return undefined;
      throw sandboxError;
    });
  }

  /** Runs `script` (a command line, or a script's text with `args` as its positional parameters). */
  private async sh(what: string, script: string, args: string[] = []): Promise<void> {
    const command = `bash -c ${q(script)}${args.length ? ` sandbox-mcp ${args.map(q).join(' ')}` : ''}`;
    const r = await this.call(what, () => this.vendor.process.executeCommand(command, undefined, undefined, 60), {
      retry: false,
      scope: 'toolbox',
    });
    if (r.exitCode !== 0)
      throw new SandboxError('INTERNAL', `Daytona ${what} failed: ${r.result.trim().slice(0, 300)}`);
  }

  async read(filePath: string, opts?: { offset?: number; length?: number }): Promise<{ data: Buffer; size: number }> {
    const file = this.abs(filePath);
    const info = await this.details(file);
    if (info.isDir)
      throw new SandboxError('INVALID_ARGUMENT', `${file} is a directory`, {
        hint: 'use file_list to see its entries',
      });
    VendorFiles.checkWholeRead(file, info.size, opts);
    const stream = await this.call(`read ${file}`, () => this.vendor.fs.downloadFileStream(file), { scope: 'toolbox' });
    try {
      return await VendorFiles.rangeOf(file, info.size, stream, opts);
    } finally {
      stream.destroy();
    }
  }

  async write(filePath: string, content: Buffer | string, opts?: { mode?: number }): Promise<FileStat> {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    const file = await this.extended.followLinks(filePath);
    const existing = await this.detailsIfAny(file);
    if (existing?.isDir)
      throw new SandboxError('INVALID_ARGUMENT', `${file} is a directory`, { hint: 'write to a file path inside it' });
    const mode = opts?.mode ?? (existing ? modeOf(existing) : 0o644);
    const tmp = path.posix.join(
      path.posix.dirname(file),
      // A name is at most 255 bytes: 50 characters (at most 200 bytes) of it keep the temporary name under that.
      `.${path.posix.basename(file).slice(0, 50)}.${randomBytes(6).toString('hex')}.tmp`,
    );
    await this.call(`write ${file}`, () => this.vendor.fs.uploadFile(Buffer.from(data), tmp), {
      retry: false,
      scope: 'toolbox',
    });
    try {
      await this.sh(`write ${file}`, installTempScript(), [mode.toString(8), tmp, file]);
    } catch (e) {
      await this.vendor.fs.deleteFile(tmp).catch(() => undefined);
      throw e;
    }
    return toStat(file, await this.details(file));
  }

  protected async shell(command: string): Promise<string> {
    // The command always exits 0 (it reports its own status); an hour bounds a huge listing or hash.
    const r = await this.call(
      'run a file script',
      () => this.vendor.process.executeCommand(`bash -c ${q(command)}`, undefined, undefined, 3600),
      { retry: false, scope: 'toolbox' },
    );
    return r.result;
  }

  async rawStat(filePath: string): Promise<FileStat> {
    const file = this.abs(filePath);
    return toStat(file, await this.details(file));
  }

  async list(filePath: string): Promise<DirEntry[]> {
    const dir = this.abs(filePath);
    const info = await this.details(dir);
    if (!info.isDir)
      throw new SandboxError('INVALID_ARGUMENT', `${dir}: a parent is not a directory`, { hint: 'pass a directory' });
    const entries = await this.call(`list ${dir}`, () => this.vendor.fs.listFiles(dir), { scope: 'toolbox' });
    return entries.map((fileInfo) => {
      const s = toStat(path.posix.join(dir, fileInfo.name), fileInfo);
      return { name: fileInfo.name, type: s.type, size: s.size, mtime: s.mtime };
    });
  }

  async mkdir(filePath: string): Promise<void> {
    const dir = this.abs(filePath);
    await this.call(`mkdir ${dir}`, () => this.vendor.fs.createFolder(dir, '755'), { scope: 'toolbox' });
  }

  async remove(filePath: string, opts?: { recursive?: boolean }): Promise<void> {
    const file = this.abs(filePath);
    const info = await this.details(file);
    if (info.isDir && !opts?.recursive) {
      throw new SandboxError('INVALID_ARGUMENT', `${file} is a directory`, {
        hint: 'pass recursive: true to delete it with its contents',
      });
    }
    await this.call(`remove ${file}`, () => this.vendor.fs.deleteFile(file, info.isDir), {
      retry: false,
      scope: 'toolbox',
    });
  }

  async rename(fromP: string, toP: string, opts?: { overwrite?: boolean }): Promise<void> {
    const from = this.abs(fromP);
    const to = this.abs(toP);
    await this.details(from);
    const target = await this.detailsIfAny(to);
    if (target && !opts?.overwrite)
      throw new SandboxError('ALREADY_EXISTS', `${to} already exists`, {
        hint: 'pass overwrite: true to replace it, or pick another destination',
      });
    if (target) return this.sh(`rename ${from}`, `mv -f -T ${q(from)} ${q(to)}`);
    await this.sh(`rename ${from}`, `mkdir -p ${q(path.posix.dirname(to))}`);
    await this.call(`rename ${from}`, () => this.vendor.fs.moveFiles(from, to), { retry: false, scope: 'toolbox' });
  }
}
