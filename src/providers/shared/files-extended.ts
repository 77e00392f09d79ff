import path from 'node:path';
import { SandboxError } from '../../errors.js';
import { cloudScriptRunner, ScriptedCopyFiles, type CopyOps } from './copy-files.js';
import { extendFiles, type ExtendedFiles } from './files-from-primitives.js';
import { MAX_TRANSFER_BYTES } from '../../agent/protocol.js';
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

function tooLarge(file: string, size: number): SandboxError {
  return new SandboxError(
    'LIMIT_EXCEEDED',
    `${file}${size ? ` is ${size} bytes,` : ' holds'} more than the ${MAX_TRANSFER_BYTES} bytes one read moves`,
    {
      hint: 'read it in ranges (file_read with offset and limit), or work on it with shell_exec (head, tail, sed -n, split)',
    },
  );
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
