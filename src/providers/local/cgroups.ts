import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Memory and process-count limits through cgroups, where this server may create them (root, or a
 * delegated cgroup v2 subtree). Elsewhere the limits are reported as not enforced instead of failing:
 * rlimits still cap file size and, for non-root users, process count.
 */
export interface CgroupLimits {
  memoryBytes: number;
  pidsMax: number;
  cpus: number;
}

const CPU_PERIOD_US = 100_000;
const cpuQuota = (l: CgroupLimits) => String(Math.max(1000, Math.round(l.cpus * CPU_PERIOD_US)));

export interface SandboxCgroup {
  /** Files a starting process writes its pid into to join. */
  procsFiles: string[];
  remove(): Promise<void>;
}

const ROOT = '/sys/fs/cgroup';

interface CgroupParent {
  dir: string;
  files: Record<string, (l: CgroupLimits) => string>;
}

function ownPath(controller: string): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, ctrls, p] = line.split(':');
      if (ctrls === undefined || p === undefined) continue;
      if (controller === '' ? ctrls === '' : ctrls.split(',').includes(controller)) return p;
    }
  } catch {
    /* not Linux */
  }
  return undefined;
}

export class Cgroups {
  /** Parent folders per controller: v1 has one per controller, v2 a single one. */
  private constructor(
    private readonly parents: CgroupParent[],
    readonly limitsCpu: boolean,
  ) {}

  /** Memory and process limits, with a CPU limit where that controller is ours too; undefined if none. */
  static async detect(cpus: number): Promise<Cgroups | undefined> {
    return (await Cgroups.probe(true, cpus)) ?? Cgroups.probe(false, cpus);
  }

  private static async probe(withCpu: boolean, cpus: number): Promise<Cgroups | undefined> {
    const v1 = ['memory', 'pids', ...(withCpu ? ['cpu'] : [])].flatMap((controller) => {
      const own = ownPath(controller);
      const dir = own !== undefined ? path.join(ROOT, controller, own) : undefined;
      return dir && existsSync(path.join(dir, 'cgroup.procs')) ? [{ c: controller, dir }] : [];
    });
    const v1Files: Record<string, CgroupParent['files']> = {
      memory: { 'memory.limit_in_bytes': (l) => String(l.memoryBytes) },
      pids: { 'pids.max': (l) => String(l.pidsMax) },
      cpu: { 'cpu.cfs_period_us': () => String(CPU_PERIOD_US), 'cpu.cfs_quota_us': cpuQuota },
    };
    const v2Files: CgroupParent['files'] = {
      'memory.max': (l) => String(l.memoryBytes),
      'pids.max': (l) => String(l.pidsMax),
    };
    if (withCpu) v2Files['cpu.max'] = (l) => `${cpuQuota(l)} ${CPU_PERIOD_US}`;
    const has = (c: string) => v1.some((h) => h.c === c);
    const onV1 = has('memory') && has('pids');
    if (withCpu && onV1 && !has('cpu')) return undefined;
    const candidates: CgroupParent[] = onV1
      ? v1.map(({ c, dir }) => ({ dir, files: v1Files[c]! }))
      : [
          {
            dir: path.join(
              existsSync(path.join(ROOT, 'cgroup.controllers')) ? ROOT : path.join(ROOT, 'unified'),
              ownPath('') ?? '/',
            ),
            files: v2Files,
          },
        ];
    const cg = new Cgroups(candidates, withCpu);
    // Probe: create and remove a child with limits; any refusal means limits are not ours to set.
    try {
      const probe = await cg.create(`probe-${process.pid}`, { memoryBytes: 1 << 30, pidsMax: 64, cpus });
      await probe.remove();
      return cg;
    } catch {
      return undefined;
    }
  }

  async create(name: string, limits: CgroupLimits): Promise<SandboxCgroup> {
    const made: string[] = [];
    try {
      for (const parent of this.parents) {
        const dir = path.join(parent.dir, `sandbox-mcp-${name}`);
        await fs.mkdir(dir);
        made.push(dir);
        for (const [file, value] of Object.entries(parent.files))
          await fs.writeFile(path.join(dir, file), value(limits));
      }
    } catch (e) {
      await Promise.all(made.map((d) => fs.rmdir(d).catch(() => undefined)));
      throw e;
    }
    return {
      procsFiles: made.map((d) => path.join(d, 'cgroup.procs')),
      remove: async () => {
        await Promise.all(made.map((d) => removeCgroup(d)));
      },
    };
  }

  /** Cgroup folders of sandboxes by name, for orphan reaping. */
  dirsFor(name: string): string[] {
    return this.parents.map((p) => path.join(p.dir, `sandbox-mcp-${name}`));
  }
}

/** rmdir fails while processes remain; they are being killed, so retry briefly. */
export async function removeCgroup(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      await fs.rmdir(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
