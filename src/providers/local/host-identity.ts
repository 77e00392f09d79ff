import { createHash, randomInt } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * Who a local sandbox is on the host. A server started as root must not hand root to the sandbox, so
 * each sandbox then runs as a host uid of its own in [HOST_UID_BASE, HOST_UID_BASE + HOST_UID_COUNT):
 * no other user or sandbox on the host has it, its files show as that uid, and RLIMIT_NPROC counts its
 * processes alone. The range sits above the ones /etc/subuid, systemd's dynamic users and systemd-nspawn
 * hand out (below 1,879,048,192) and below 2^31. A named workspace keeps one uid across restarts (its
 * files stay its own); other sandboxes draw theirs at random. A server started by another user runs
 * its sandboxes as that user, mapped to an unprivileged uid inside: no mapping needs privileges.
 */
export const HOST_UID_BASE = 2_000_000_000;
export const HOST_UID_COUNT = 1 << 24;

export function serverIsRoot(): boolean {
  return process.getuid?.() === 0;
}

export class HostUids {
  private readonly inUse = new Set<number>();

  constructor(private readonly stateDir: string) {}

  take(workspace?: string): number {
    let uid: number;
    if (workspace) {
      const digest = createHash('sha256').update(`${this.stateDir}\0${workspace}`).digest();
      uid = HOST_UID_BASE + (digest.readUInt32BE(0) % HOST_UID_COUNT);
    } else {
      do uid = HOST_UID_BASE + randomInt(HOST_UID_COUNT);
      while (this.inUse.has(uid));
    }
    this.inUse.add(uid);
    return uid;
  }

  release(uid: number): void {
    this.inUse.delete(uid);
  }
}

/**
 * A program as a copy nobody may read, only execute: the agent's Node.js, and Chromium. The kernel marks
 * a process whose program its user cannot read as not dumpable, and only a holder of CAP_SYS_PTRACE over
 * it may then ptrace it, open its /proc/<pid>/fd or take its descriptors with pidfd_getfd: code in the
 * sandbox, the same uid but without capabilities, can no longer reach or forge the agent's channel or
 * Chromium's CDP pipe. One copy per build, kept in the cache folder (writable by the server's user alone),
 * in a folder of its own per program, which a root server binds for its sandboxes' uids to enter.
 */
export async function executeOnlyCopy(cacheDir: string, name: string, sourcePath: string): Promise<string> {
  const st = await fs.stat(sourcePath);
  const dir = path.join(cacheDir, name);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const copy = path.join(dir, `${name}-x-${st.size}-${Math.trunc(st.mtimeMs)}-${st.ino}`);
  // Root's copy is executed by the sandbox's own uid (others' x bit); anyone else's by its owner.
  const root = serverIsRoot();
  const mode = root ? 0o711 : 0o111;
  await fs.chmod(dir, root ? 0o711 : 0o700);
  const existing = await fs.stat(copy).catch(() => undefined);
  if (existing?.isFile() && existing.size === st.size && (existing.mode & 0o777) === mode) return copy;
  const temp = `${copy}.${process.pid}.tmp`;
  try {
    await pipeline(createReadStream(sourcePath), createWriteStream(temp, { mode: 0o700 }));
    await fs.chmod(temp, mode);
    await fs.rename(temp, copy);
  } finally {
    await fs.rm(temp, { force: true });
  }
  return copy;
}

const CHROMIUM_BINARIES = [
  '/usr/lib/chromium/chromium',
  '/usr/lib/chromium-browser/chromium-browser',
  '/usr/lib64/chromium-browser/chromium-browser',
];

/**
 * The Chromium executable behind a configured path, which is often a wrapper script (Debian's
 * /usr/bin/chromium): the file to replace, inside sandboxes, with its execute-only copy. Only under /usr,
 * the part of the host a sandbox sees. Undefined when there is none to find.
 */
export async function chromiumExecutable(chromiumPath: string): Promise<string | undefined> {
  const real = await fs.realpath(chromiumPath).catch(() => undefined);
  if (!real) return undefined;
  const candidates = (await isElf(real)) ? [real] : CHROMIUM_BINARIES;
  for (const candidate of candidates) {
    if (candidate.startsWith('/usr/') && (await isElf(candidate))) return candidate;
  }
  return undefined;
}

async function isElf(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.toString('latin1') === '\x7fELF';
  } finally {
    await handle.close();
  }
}
