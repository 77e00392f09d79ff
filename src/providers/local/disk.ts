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
 * One empty disk image copied ahead of need: a new sandbox's image is a rename of it instead of a copy
 * of the template in stage.sh (an external program and ~10 ms of its cold start), and the next one is
 * copied in the background. It lives in a root-only folder of the state dir that no sandbox mounts; a
 * burst that finds none falls back to the copy.
 */
const REFILL_DELAY_MS = 1500;

export class SpareDisk {
  private refilling: Promise<void> | undefined;

  constructor(
    private readonly template: string,
    private readonly file: string,
  ) {}

  static async create(template: string, stateDir: string): Promise<SpareDisk> {
    const dir = path.join(stateDir, 'disk-spare');
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.chmod(dir, 0o700);
    // A copy a killed server left half made (another server's copy in progress just fails its rename).
    for (const name of await fs.readdir(dir))
      if (name.endsWith('.tmp')) await fs.rm(path.join(dir, name), { force: true });
    const spare = new SpareDisk(template, path.join(dir, 'next.img'));
    spare.refill(0);
    return spare;
  }

  /** Moves the spare to `image`, if there is one (else stage.sh copies the template). */
  async moveTo(image: string): Promise<void> {
    await fs.rename(this.file, image).catch(() => undefined);
  }

  /**
   * Copies the next spare unless one is waiting or being copied, a little later: starting `cp` forks the
   * server, which stalls its event loop for milliseconds, and the sandbox just started is about to get
   * its first call.
   */
  refill(delayMs = REFILL_DELAY_MS): void {
    this.refilling ??= new Promise((resolve) => setTimeout(resolve, delayMs).unref())
      .then(() => this.copy())
      .catch(() => undefined) // stage.sh copies the template itself when there is no spare
      .finally(() => (this.refilling = undefined));
  }

  private async copy(): Promise<void> {
    if (existsSync(this.file)) return;
    const temp = `${this.file}.${process.pid}.tmp`;
    try {
      await run('cp', ['--sparse=always', this.template, temp]);
      await fs.rename(temp, this.file);
    } finally {
      await fs.rm(temp, { force: true });
    }
  }
}
