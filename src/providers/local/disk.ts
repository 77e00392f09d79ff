import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function findProgram(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(':')) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/**
 * An empty ext4 image of `sizeMb`, made once per size in the cache folder: a sandbox's disk (the disk
 * cap, stage.sh) starts as a sparse copy of it, which takes a few milliseconds where mkfs takes fifty.
 * No reserved blocks: the whole cap is the sandbox's. Sparse, it costs the host a few MiB.
 */
export async function ensureDiskTemplate(cacheDir: string, sizeMb: number, mkfs: string): Promise<string> {
  const template = path.join(cacheDir, `disk-ext4-${sizeMb}m-v2.img`);
  if (existsSync(template)) return template;
  await fs.mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const temp = `${template}.${process.pid}.tmp`;
  // What every sandbox disk starts with: its workspace, home and tmp folders (stage.sh hands them over).
  const contents = `${temp}.d`;
  try {
    await Promise.all(
      ['workspace', 'home', 'tmp'].map((d) => fs.mkdir(path.join(contents, d), { recursive: true, mode: 0o755 })),
    );
    await fs.chmod(path.join(contents, 'tmp'), 0o1777);
    await fs.writeFile(temp, '', { mode: 0o600 });
    await fs.truncate(temp, sizeMb * 1024 * 1024);
    await run(mkfs, ['-q', '-F', '-m', '0', '-d', contents, '-E', 'lazy_itable_init=1,lazy_journal_init=1', temp]);
    await fs.rename(temp, template);
  } finally {
    await Promise.all([fs.rm(temp, { force: true }), fs.rm(contents, { recursive: true, force: true })]);
  }
  return template;
}

/**
 * The root-only folder of the state dir where spare launchers copy empty disk images ahead of need
 * (spare-launcher.ts), which the sandboxes that take them then use: no sandbox mounts it. Images left by
 * servers no longer running are removed (another live server's are its own).
 */
export async function spareImageDir(stateDir: string, liveServers: Set<string>): Promise<string> {
  const dir = path.join(stateDir, 'disk-spare');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  for (const name of await fs.readdir(dir)) {
    const owner = /^([0-9a-f]+)-\d+\.img$/.exec(name)?.[1];
    // next.img and *.tmp: the single spare of earlier versions.
    if (owner ? !liveServers.has(owner) : name === 'next.img' || name.endsWith('.tmp'))
      await fs.rm(path.join(dir, name), { force: true });
  }
  return dir;
}
