import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SandboxError } from '../../errors.js';

/**
 * What this server and its sandboxes leave in the state dir, so that the next server started with
 * the same state dir can tell a crashed server's sandboxes from a running server's, and reap them.
 */
export interface SandboxMeta {
  id: string;
  labels: Record<string, string>;
  createdAt: string;
  launcherPid: number;
  /** The launcher's start time (clock ticks since boot): with the pid, names the process even after pid reuse. */
  launcherStart?: number;
  instanceId?: string;
}

interface ServerRecord {
  instanceId: string;
  pid: number;
  procStart: string;
  startedAt: string;
}

/** A process's start time in clock ticks since boot: with the pid, it names one process for good. */
function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export class ServerRegistry {
  readonly instanceId = randomBytes(8).toString('hex');

  constructor(private readonly stateDir: string) {}

  private serversDir = () => path.join(this.stateDir, 'servers');
  private sandboxesDir = () => path.join(this.stateDir, 'sandboxes');
  private metaFile = (id: string) => path.join(this.sandboxesDir(), id, 'meta.json');

  async register(): Promise<void> {
    try {
      await fs.mkdir(this.serversDir(), { recursive: true, mode: 0o700 });
      await fs.mkdir(this.sandboxesDir(), { recursive: true, mode: 0o700 });
      const rec: ServerRecord = {
        instanceId: this.instanceId,
        pid: process.pid,
        procStart: procStart(process.pid) ?? '',
        startedAt: new Date().toISOString(),
      };
      await fs.writeFile(path.join(this.serversDir(), `${this.instanceId}.json`), JSON.stringify(rec));
    } catch (e) {
      // A file in its place, a read-only mount, a full disk: the raw errno names a subfolder, not the setting.
      throw new SandboxError(
        'PERMISSION_DENIED',
        `the state dir ${this.stateDir} is not a writable folder (${(e as Error).message})`,
        {
          hint: 'point SANDBOX_STATE_DIR (or --state-dir) at a folder this user can write, or fix its permissions',
          cause: e,
        },
      );
    }
  }

  async unregister(): Promise<void> {
    await fs.rm(path.join(this.serversDir(), `${this.instanceId}.json`), { force: true });
  }

  async recordSandbox(meta: SandboxMeta): Promise<void> {
    await fs.writeFile(this.metaFile(meta.id), JSON.stringify({ ...meta, instanceId: this.instanceId }));
  }

  async updateLabels(id: string, labels: Record<string, string>): Promise<void> {
    const meta = JSON.parse(await fs.readFile(this.metaFile(id), 'utf8')) as SandboxMeta;
    await fs.writeFile(this.metaFile(id), JSON.stringify({ ...meta, labels }));
  }

  async sandboxes(): Promise<SandboxMeta[]> {
    const ids = await fs.readdir(this.sandboxesDir()).catch(() => [] as string[]);
    const metas = await Promise.all(
      ids.map(async (id) => {
        try {
          return JSON.parse(await fs.readFile(this.metaFile(id), 'utf8')) as SandboxMeta;
        } catch {
          return { id, labels: {}, createdAt: '', launcherPid: -1 };
        }
      }),
    );
    return metas;
  }

  /** Instance ids of servers (this one included) still running with this state dir. */
  async liveServers(): Promise<Set<string>> {
    const live = new Set<string>([this.instanceId]);
    for (const f of await fs.readdir(this.serversDir()).catch(() => [] as string[])) {
      const file = path.join(this.serversDir(), f);
      try {
        const rec = JSON.parse(await fs.readFile(file, 'utf8')) as ServerRecord;
        if (rec.instanceId === this.instanceId) continue;
        if (procStart(rec.pid) === rec.procStart) live.add(rec.instanceId);
        else await fs.rm(file, { force: true });
      } catch {
        await fs.rm(file, { force: true });
      }
    }
    return live;
  }

  /** Calls `reap` for each sandbox whose server is gone (or unknown), then forgets it. */
  async reapOrphans(reap: (meta: SandboxMeta, deadServer: string) => Promise<void>): Promise<string[]> {
    const live = await this.liveServers();
    const reaped: string[] = [];
    for (const meta of await this.sandboxes()) {
      if (meta.instanceId && live.has(meta.instanceId)) continue;
      // A folder younger than a few seconds without meta may be a sandbox being created right now.
      if (!meta.instanceId) {
        const st = await fs.stat(path.join(this.sandboxesDir(), meta.id)).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs < 10_000) continue;
      }
      await reap(meta, meta.instanceId ?? 'unknown');
      reaped.push(meta.id);
    }
    return reaped;
  }
}
