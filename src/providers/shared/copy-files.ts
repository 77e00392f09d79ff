import { randomBytes } from 'node:crypto';
import { SandboxError } from '../../errors.js';
import { helperError } from './helper-errors.js';
import { shellQuote as q } from './remote-processes.js';
import { scriptFile } from './script-file.js';
import type { FilesApi, WalkEntry } from '../types.js';

/**
 * FilesApi.walk, symlink, chmod, append and sha256 for providers without an in-sandbox agent (docker,
 * E2B, Daytona): small bash + coreutils scripts (scripts/*.sh) run inside the sandbox, paths
 * passed as arguments (never spliced into the script), lists and data through stdin.
 */
export type CopyScript = 'walk' | 'symlink' | 'chmod' | 'append' | 'sha256';
export type CopyOps = Pick<FilesApi, 'walk' | 'symlink' | 'chmod' | 'append' | 'sha256'>;

/** Runs a script with `args` ($1...) and optional stdin; resolves to its stdout, throws a SandboxError. */
export type ScriptRunner = (script: CopyScript, args: string[], stdin?: Buffer) => Promise<Buffer>;

const scripts: Record<CopyScript, () => string> = {
  walk: scriptFile(new URL('./scripts/walk.sh', import.meta.url)),
  symlink: scriptFile(new URL('./scripts/symlink.sh', import.meta.url)),
  chmod: scriptFile(new URL('./scripts/chmod.sh', import.meta.url)),
  append: scriptFile(new URL('./scripts/append.sh', import.meta.url)),
  sha256: scriptFile(new URL('./scripts/sha256.sh', import.meta.url)),
};

/** scripts/captured.sh SCRIPT INPUT OUTPUT ERRORS ARG...: a script run with its stdio in files (cloudScriptRunner). */
const capturedScript = scriptFile(new URL('./scripts/captured.sh', import.meta.url));

export function copyScript(name: CopyScript): string {
  return scripts[name]();
}

/** Paths hashed per script run: bounds one run's time and its stdin. */
const SHA_BATCH = 256;

export class ScriptedCopyFiles implements CopyOps {
  constructor(
    private readonly resolveIn: (p: string) => string,
    private readonly run: ScriptRunner,
  ) {}

  private resolve(filePath: string): string {
    if (typeof filePath !== 'string' || !filePath || filePath.includes('\0'))
      throw new SandboxError('INVALID_ARGUMENT', 'path must be a non-empty string without NUL bytes', {
        hint: 'pass a path relative to the workdir or an absolute one',
      });
    return this.resolveIn(filePath);
  }

  async walk(filePath: string, opts: { maxEntries: number }): Promise<WalkEntry[]> {
    const root = this.resolve(filePath);
    const out = await this.run('walk', [root, String(opts.maxEntries)]);
    const entries = parseWalk(out);
    if (entries.length > opts.maxEntries)
      throw new SandboxError('LIMIT_EXCEEDED', `${root} holds more than ${opts.maxEntries} entries`, {
        hint: 'copy it in parts, or archive it first (tar) and copy the archive',
      });
    return entries.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  }

  async symlink(target: string, filePath: string): Promise<void> {
    if (!target || target.includes('\0'))
      throw new SandboxError('INVALID_ARGUMENT', 'a symlink target must be a non-empty string without NUL bytes');
    await this.run('symlink', [target, this.resolve(filePath)]);
  }

  async chmod(filePath: string, mode: number): Promise<void> {
    await this.run('chmod', [this.resolve(filePath), (mode & 0o7777).toString(8)]);
  }

  async append(filePath: string, data: Buffer): Promise<void> {
    await this.run('append', [this.resolve(filePath)], data);
  }

  async sha256(paths: string[]): Promise<string[]> {
    const digests: string[] = [];
    for (let i = 0; i < paths.length; i += SHA_BATCH) {
      const batch = paths.slice(i, i + SHA_BATCH).map((p) => this.resolve(p));
      const out = await this.run('sha256', [], Buffer.from(batch.map((f) => `${f}\0`).join('')));
      const lines = out.toString().split('\n').filter(Boolean);
      if (lines.length !== batch.length || !lines.every((l) => /^[0-9a-f]{64}$/.test(l)))
        throw new SandboxError(
          'INTERNAL',
          `sha256sum in the sandbox gave ${lines.length} digests for ${batch.length} files`,
        );
      digests.push(...lines);
    }
    return digests;
  }
}

const TYPES: Record<string, WalkEntry['type']> = { f: 'file', d: 'directory', l: 'symlink' };

/** walk.sh's records: "type size mode mtime\0path\0linktarget\0". */
export function parseWalk(out: Buffer): WalkEntry[] {
  const fields = out.toString('utf8').split('\0');
  const entries: WalkEntry[] = [];
  for (let i = 0; i + 2 < fields.length; i += 3) {
    const [t = '', size = '0', mode = '0', mtime = '0'] = fields[i]!.split(' ');
    const type = TYPES[t] ?? 'other';
    entries.push({
      path: fields[i + 1]!,
      type,
      size: Number(size),
      mode: parseInt(mode, 8) & 0o7777,
      mtime: new Date(Number(mtime) * 1000).toISOString(),
      ...(type === 'symlink' ? { linkTarget: fields[i + 2]! } : {}),
    });
  }
  return entries;
}

/** What a cloud provider offers to run scripts: a shell command (its stdout) and its files API. */
export interface CloudShell {
  /** Runs one shell command line in the sandbox, returns its stdout; it must not fail on a non-zero exit. */
  exec(command: string): Promise<string>;
  files: Pick<FilesApi, 'read' | 'write' | 'remove'>;
}

/**
 * A ScriptRunner over a vendor's command API, binary-safe: stdin goes up as a file, stdout lands in a
 * file read back through the files API (vendor command output is text, and capped), stderr and the
 * exit status come back in the command's own output.
 */
export function cloudScriptRunner(shell: CloudShell): ScriptRunner {
  return async (script, args, stdin) => {
    const base = `/tmp/.sandbox-mcp-copy-${randomBytes(8).toString('hex')}`;
    const [input, output, errors] = [`${base}.in`, `${base}.out`, `${base}.err`];
    if (stdin) await shell.files.write(input, stdin);
    const capturedArgs = [copyScript(script), stdin ? input : '', output, errors, ...args];
    const command = `bash -c ${q(capturedScript())} captured ${capturedArgs.map(q).join(' ')}`;
    try {
      const reply = await shell.exec(command);
      const cut = reply.lastIndexOf('\n');
      const status = Number(reply.slice(cut + 1));
      if (status !== 0) throw helperError(reply.slice(0, Math.max(0, cut)), status, args[0] ?? script);
      return await readWhole(shell.files, output);
    } finally {
      await shell.files.remove(output).catch(() => undefined);
    }
  };
}

async function readWhole(files: Pick<FilesApi, 'read'>, file: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const { data, size } = await files.read(file, { offset, length: 32 << 20 });
    parts.push(data);
    offset += data.length;
    if (data.length === 0 || offset >= size) return Buffer.concat(parts);
  }
}
