import path from 'node:path';
import { SandboxError } from '../../errors.js';
import type { DirEntry, FilesApi, FileStat } from '../types.js';
import { helperError } from './errors.js';
import type { ContainerExec } from './exec.js';

/**
 * File operations as small bash + coreutils scripts exec'd in the container as the sandbox user, not
 * through the engine's archive API: every path, `..` and symlink resolves the way the sandbox sees it
 * (a symlink to / reaches the container's own root, never the host's), permissions are the sandbox
 * user's, and the read-only root and the tmpfs mounts behave as they do for commands. (putArchive would
 * write as root, bypass those permissions and cannot write into tmpfs mounts.)
 */
const FAIL = `fail() { printf 'E\\t%s\\t%s\\t%s\\n' "$1" "$2" "\${3:-}" >&2; exit 3; }`;
const EXISTS = (v: string) => `[ -e "${v}" ] || [ -L "${v}" ] || fail NOT_FOUND "${v}: no such file or directory" "check the path with file_list"`;
/** lstat fields: raw mode (hex), size, then atime, mtime, ctime, birth as "YYYY-MM-DD hh:mm:ss.n +0000". */
const STAT_FORMAT = '%f\\t%s\\t%x\\t%y\\t%z\\t%w\\n';

const SCRIPTS = {
  read: [FAIL, 'p=$1; off=$2; len=$3', EXISTS('$p'),
    '[ -d "$p" ] && fail INVALID_ARGUMENT "$p is a directory" "use file_list to see its entries"',
    '[ -f "$p" ] || fail INVALID_ARGUMENT "$p is not a regular file" "only regular files can be read"',
    '[ -r "$p" ] || fail PERMISSION_DENIED "$p: permission denied"',
    'exec 3<"$p" || exit 1',
    'size=$(stat -Lc %s -- "$p") || exit 1',
    'printf "%s\\n" "$size"',
    'if [ -z "$len" ]; then tail -c "+$((off + 1))" <&3; else tail -c "+$((off + 1))" <&3 | head -c "$len"; fi'],
  write: [FAIL, 'p=$1; mode=$2',
    '[ -d "$p" ] && fail INVALID_ARGUMENT "$p is a directory" "write to a file path inside it"',
    'd=$(dirname -- "$p"); b=$(basename -- "$p")',
    'mkdir -p -- "$d" || exit 1',
    'if [ -z "$mode" ]; then if [ -e "$p" ]; then mode=$(stat -Lc %a -- "$p") || exit 1; else mode=644; fi; fi',
    'tmp=$(mktemp -- "$d/.$b.XXXXXX.tmp") || exit 1',
    'if cat >"$tmp" && chmod -- "$mode" "$tmp" && mv -fT -- "$tmp" "$p"; then :; else s=$?; rm -f -- "$tmp"; exit "$s"; fi',
    `stat --printf '${STAT_FORMAT}' -- "$p"`],
  stat: [FAIL, 'p=$1', EXISTS('$p'), `stat --printf '${STAT_FORMAT}' -- "$p" || exit 1`, '[ -L "$p" ] && readlink -- "$p"', 'exit 0'],
  list: [FAIL, 'p=$1', EXISTS('$p'),
    '[ -d "$p" ] || fail INVALID_ARGUMENT "$p is not a directory" "use file_info or file_read for a file"',
    'cd -- "$p" || exit 1',
    "find . -mindepth 1 -maxdepth 1 -printf '%y\\t%s\\t%T@\\t%P\\0'"],
  mkdir: [FAIL, 'p=$1', '[ -e "$p" ] && [ ! -d "$p" ] && fail ALREADY_EXISTS "$p already exists and is not a directory"', 'mkdir -p -- "$p"'],
  remove: [FAIL, 'p=$1; r=$2', EXISTS('$p'),
    'if [ -d "$p" ] && [ ! -L "$p" ]; then',
    '  [ "$r" = 1 ] || fail INVALID_ARGUMENT "$p is a directory" "pass recursive: true to delete it with its contents"',
    '  rm -rf -- "$p"',
    'else rm -f -- "$p"; fi'],
  rename: [FAIL, 'f=$1; t=$2; o=$3', EXISTS('$f'),
    'if [ "$o" != 1 ] && { [ -e "$t" ] || [ -L "$t" ]; }; then fail ALREADY_EXISTS "$t already exists" "pass overwrite: true to replace it, or pick another destination"; fi',
    'mkdir -p -- "$(dirname -- "$t")" && mv -fT -- "$f" "$t"'],
} satisfies Record<string, string[]>;

const TYPES: Record<number, FileStat['type']> = { 0o100000: 'file', 0o040000: 'directory', 0o120000: 'symlink' };
const FIND_TYPES: Record<string, FileStat['type']> = { f: 'file', d: 'directory', l: 'symlink' };

/** "2026-11-29 01:12:00.123456789 +0000" (TZ=UTC) -> ISO; "-" (unknown birth time) -> undefined. */
function isoTime(s: string | undefined): string | undefined {
  const m = s?.match(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? ([+-]\d{4})$/);
  if (!m) return undefined;
  return new Date(`${m[1]}T${m[2]}${(m[3] ?? '.0').slice(0, 4)}${m[4]!.slice(0, 3)}:${m[4]!.slice(3)}`).toISOString();
}

function parseStat(file: string, out: string): FileStat {
  const [line = '', link] = out.split('\n');
  const [rawMode, size, atime, mtime, ctime, birth] = line.split('\t');
  const mode = parseInt(rawMode ?? '0', 16);
  const type = TYPES[mode & 0o170000] ?? 'other';
  const mt = isoTime(mtime) ?? new Date(0).toISOString();
  return {
    path: file, type, size: Number(size), mode: mode & 0o7777,
    mtime: mt, atime: isoTime(atime) ?? mt, ctime: isoTime(ctime) ?? mt, birthtime: isoTime(birth) ?? isoTime(ctime) ?? mt,
    linkTarget: type === 'symlink' ? link : undefined,
  };
}

export class DockerFiles implements FilesApi {
  constructor(private readonly runner: ContainerExec) {}

  private resolve(p: unknown): string {
    if (typeof p !== 'string' || p.length === 0) throw new SandboxError('INVALID_ARGUMENT', 'path must be a non-empty string', { hint: 'pass a path relative to the workdir or an absolute one' });
    if (p.includes('\0')) throw new SandboxError('INVALID_ARGUMENT', 'path contains a NUL byte', { hint: 'remove it' });
    return path.posix.resolve(this.runner.workdir, p);
  }

  private async run(script: keyof typeof SCRIPTS, file: string, args: string[], stdin?: Buffer) {
    const r = await this.runner.helper(SCRIPTS[script].join('\n'), args, { stdin });
    if (r.exitCode !== 0) throw helperError(r.stderr, r.exitCode, file);
    return r.stdout;
  }

  async read(p: string, opts: { offset?: number; length?: number } = {}): Promise<{ data: Buffer; size: number }> {
    const file = this.resolve(p);
    const out = await this.run('read', file, [file, String(Math.max(0, opts.offset ?? 0)), opts.length === undefined ? '' : String(Math.max(0, opts.length))]);
    const nl = out.indexOf(10);
    return { size: Number(out.subarray(0, nl).toString()), data: out.subarray(nl + 1) };
  }

  async write(p: string, data: Buffer, opts: { mode?: number } = {}): Promise<FileStat> {
    const file = this.resolve(p);
    const out = await this.run('write', file, [file, opts.mode === undefined ? '' : (opts.mode & 0o7777).toString(8)], data);
    return parseStat(file, out.toString());
  }

  async stat(p: string): Promise<FileStat> {
    const file = this.resolve(p);
    return parseStat(file, (await this.run('stat', file, [file])).toString());
  }

  async list(p: string): Promise<DirEntry[]> {
    const dir = this.resolve(p);
    const out = (await this.run('list', dir, [dir])).toString();
    return out.split('\0').filter(Boolean).map((rec) => {
      const [t = '', size, mtime, ...name] = rec.split('\t');
      return { name: name.join('\t'), type: FIND_TYPES[t] ?? 'other', size: Number(size), mtime: new Date(Number(mtime) * 1000).toISOString() };
    });
  }

  async mkdir(p: string): Promise<void> {
    const dir = this.resolve(p);
    await this.run('mkdir', dir, [dir]);
  }

  async remove(p: string, opts: { recursive?: boolean } = {}): Promise<void> {
    const file = this.resolve(p);
    await this.run('remove', file, [file, opts.recursive ? '1' : '']);
  }

  async rename(from: string, to: string, opts: { overwrite?: boolean } = {}): Promise<void> {
    const a = this.resolve(from);
    const b = this.resolve(to);
    await this.run('rename', a, [a, b, opts.overwrite ? '1' : '']);
  }
}
