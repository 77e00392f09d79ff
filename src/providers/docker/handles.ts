import type Dockerode from 'dockerode';
import type { Logger } from '../../logger.js';
import type { ContainerExec } from './exec.js';
import { idleSeconds } from './last-use.js';
import type { DockerSandbox } from './sandbox.js';

/** A preview attachment unused this long is let go of (the next preview request attaches again). */
const PREVIEW_HOLD_MS = 60_000;
/** Engine lookups for preview ids at once: preview hosts are public, so a flood of made-up ids waits its turn. */
const MAX_LOOKUPS = 4;
/** An id found to be no container of ours is not looked up again for this long (bounded memory). */
const MISS_MS = 5000;
const MAX_MISSES = 1024;
/**
 * Rounds in a row a container's mark may be unreadable before it counts as unmarked: a sandbox that
 * holds its whole process limit (no exec starts) must not keep itself alive that way.
 */
const UNREADABLE_ROUNDS = 3;

export interface HandleContainerDeps {
  log: Logger;
  idleTimeoutS: number;
  /** This deployment's running handle containers (label filters applied); `id`: only the one with that sandbox id. */
  find(id?: string): Promise<Dockerode.ContainerInfo[]>;
  /** The sandbox id and creation time a container's labels carry. */
  describe(info: Dockerode.ContainerInfo): { id: string; createdAt: Date };
  /** A runner for a container's exec API (the reaper reads the last-use mark with it). */
  runner(info: Dockerode.ContainerInfo): ContainerExec;
  /** A sandbox object for previews, held outside the sandboxes the provider kills at shutdown, marked as used. */
  attach(info: Dockerode.ContainerInfo): Promise<DockerSandbox>;
  /** Ends the container, and the sandbox a session of this server holds for it (it then reports SANDBOX_GONE). */
  remove(info: Dockerode.ContainerInfo): Promise<void>;
}

/**
 * What makes a stateless handle's container independent of the replica that created it: its previews
 * served by any replica (attached here from the sandbox id, only among this deployment's handle
 * containers), and idle reaping by any replica, from the last-use mark inside the container.
 */
export class DockerHandleContainers {
  private readonly held = new Map<string, { sandbox: DockerSandbox; timer: NodeJS.Timeout }>();
  private readonly pending = new Map<string, Promise<DockerSandbox | undefined>>();
  private readonly misses = new Map<string, number>();
  private reaper?: NodeJS.Timeout;
  private reaping = false;
  private readonly unreadable = new Map<string, number>();

  constructor(private readonly deps: HandleContainerDeps) {}

  /** The handle container with this sandbox id, attached here for its previews; undefined if none of ours. */
  async preview(id: string): Promise<DockerSandbox | undefined> {
    const held = this.held.get(id);
    if (held?.sandbox.isAlive()) {
      held.timer.refresh();
      return held.sandbox;
    }
    if (held) this.letGo(id);
    if ((this.misses.get(id) ?? 0) > Date.now()) return undefined;
    let found = this.pending.get(id);
    if (!found) {
      if (this.pending.size >= MAX_LOOKUPS) return undefined;
      found = this.lookUp(id).finally(() => this.pending.delete(id));
      this.pending.set(id, found);
    }
    return found;
  }

  private async lookUp(id: string): Promise<DockerSandbox | undefined> {
    const [info] = await this.deps.find(id).catch(() => []);
    if (!info) {
      if (this.misses.size >= MAX_MISSES) this.misses.clear();
      this.misses.set(id, Date.now() + MISS_MS);
      return undefined;
    }
    const sandbox = await this.deps.attach(info);
    const timer = setTimeout(() => this.letGo(id), PREVIEW_HOLD_MS).unref();
    this.held.set(id, { sandbox, timer });
    this.deps.log.info({ sandboxId: id }, 'attached to a handle container for its previews');
    return sandbox;
  }

  private letGo(id: string): void {
    const held = this.held.get(id);
    if (!held) return;
    this.held.delete(id);
    clearTimeout(held.timer);
    held.sandbox.detach();
  }

  /** Starts the periodic idle reaping: often enough that a container outlives its timeout by a quarter at most. */
  startReaper(): void {
    const every = Math.min(60_000, Math.max(1000, (this.deps.idleTimeoutS * 1000) / 4));
    this.reaper = setInterval(() => void this.reapIdle(), every).unref();
  }

  /**
   * Removes this deployment's handle containers unused for SANDBOX_IDLE_TIMEOUT, whichever replica made
   * or used them. A container whose mark cannot be read is left for later rounds (UNREADABLE_ROUNDS);
   * one with no sound mark counts as unused since its creation.
   */
  async reapIdle(): Promise<string[]> {
    if (this.reaping) return [];
    this.reaping = true;
    const reaped: string[] = [];
    try {
      const idleS = this.deps.idleTimeoutS;
      const found = await this.deps.find();
      const seen = new Set(found.map((info) => this.deps.describe(info).id));
      for (const id of [...this.unreadable.keys()]) if (!seen.has(id)) this.unreadable.delete(id);
      for (const info of found) {
        const { id, createdAt } = this.deps.describe(info);
        if (Date.now() - createdAt.getTime() < idleS * 1000) continue;
        // A stopped container has no processes to mark it: unused since its creation.
        const idle = info.State === 'running' ? await this.idleOf(id, info) : 'unmarked';
        if (idle === undefined || (typeof idle === 'number' && idle < idleS)) continue;
        await this.deps.remove(info).then(
          () => {
            reaped.push(id);
            this.deps.log.info({ sandboxId: id, idleS }, 'reaped an idle handle container');
          },
          (error: Error) =>
            this.deps.log.warn({ err: error.message, sandboxId: id }, 'could not remove an idle handle container'),
        );
      }
    } catch (e) {
      this.deps.log.warn({ err: (e as Error).message }, 'idle reaping of handle containers skipped this round');
    } finally {
      this.reaping = false;
    }
    return reaped;
  }

  /** Its idle seconds; undefined while unreadable, 'unmarked' once unreadable UNREADABLE_ROUNDS times in a row. */
  private async idleOf(id: string, info: Dockerode.ContainerInfo): Promise<number | 'unmarked' | undefined> {
    const idle = await idleSeconds(this.deps.runner(info));
    if (idle !== undefined) {
      this.unreadable.delete(id);
      return idle;
    }
    const rounds = (this.unreadable.get(id) ?? 0) + 1;
    if (rounds < UNREADABLE_ROUNDS) {
      this.unreadable.set(id, rounds);
      return undefined;
    }
    this.unreadable.delete(id);
    return 'unmarked';
  }

  /** Server shutdown: preview attachments are let go of, never ended; reaping stops. */
  close(): void {
    clearInterval(this.reaper);
    for (const id of [...this.held.keys()]) this.letGo(id);
  }
}
