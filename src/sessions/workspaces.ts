import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { LABEL_WORKSPACE } from '../providers/shared/owner.js';
import type { Sandbox, SandboxProvider } from '../providers/types.js';
import type { Telemetry } from '../telemetry.js';
import type { SessionLimits } from './session.js';

interface Entry {
  name: string;
  sandbox?: Sandbox;
  creating?: Promise<Sandbox>;
  holders: Set<string>;
  expiry?: NodeJS.Timeout;
  lastTouched: number;
  /** The sandbox id last started again after a stop (its files survived). */
  revived?: string;
}

export interface WorkspaceLease {
  sandbox: Sandbox;
  /** True when the workspace had a sandbox before that has died (files may survive, processes did not). */
  replaced: boolean;
  /** Set when the sandbox was started again rather than replaced: its files are all there. */
  filesKept?: boolean;
}

/**
 * Named workspaces (the seed's get_or_start_sandbox(workspace_id)): sessions bound to one name share
 * one sandbox. It outlives its sessions: killed only after SANDBOX_WORKSPACE_TTL with none attached.
 * Across restarts local and docker keep its files (a state-dir folder, a named volume); E2B and Daytona
 * keep the sandbox itself, released at shutdown and reattached by the next server (findReleased).
 * A sandbox another running server uses is never adopted: that server would kill it at its TTL or
 * shutdown under our sessions. Two live servers on one state dir therefore run a sandbox each.
 */
export class WorkspaceRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly provider: SandboxProvider,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly limits: SessionLimits,
    private readonly telemetry: Telemetry,
  ) {}

  /** The workspace's live sandbox, reattached or created; `holder` (a session id) keeps it alive. */
  async acquire(name: string, holder: string): Promise<WorkspaceLease> {
    let e = this.entries.get(name);
    if (!e) {
      e = { name, holders: new Set(), lastTouched: 0 };
      this.entries.set(name, e);
    }
    e.holders.add(holder);
    clearTimeout(e.expiry);
    e.expiry = undefined;
    if (e.sandbox?.isAlive()) return { sandbox: e.sandbox, replaced: false };
    const replaced = !!e.sandbox;
    const entry = e;
    entry.creating ??= this.restart(entry).finally(() => {
      entry.creating = undefined;
    });
    const sandbox = await entry.creating;
    return { sandbox, replaced, filesKept: entry.revived === sandbox.id || undefined };
  }

  /** A new sandbox for the workspace, or its stopped one started again (cloud). */
  private async restart(entry: Entry): Promise<Sandbox> {
    const old = entry.sandbox;
    if (!old) return this.start(entry);
    const revived = await this.revive(entry, old);
    if (revived) return revived;
    this.log.warn(
      { workspace: entry.name, sandboxId: old.id },
      'workspace sandbox ended unexpectedly; starting a fresh one',
    );
    this.telemetry.sandboxEnded('crashed');
    this.limits.release();
    // What is left of it (a stopped container, its listeners) goes now, not at server shutdown.
    void old.kill().catch(() => undefined);
    entry.sandbox = undefined;
    return this.start(entry);
  }

  /**
   * A cloud workspace sandbox is its files: one the vendor stopped (Daytona's auto-stop) is started again
   * rather than replaced. Only providers whose sandboxes outlive a server (findReleased) can.
   */
  private async revive(entry: Entry, old: Sandbox): Promise<Sandbox | undefined> {
    if (!this.provider.findReleased || !old.release) return undefined;
    await old.release(0).catch(() => undefined); // this server's hold on the dead object only
    const sb = await this.provider.connect(old.id).catch(() => undefined);
    if (!sb?.isAlive()) return undefined;
    this.log.warn({ workspace: entry.name, sandboxId: sb.id }, 'workspace sandbox had stopped; started it again');
    entry.sandbox = sb;
    entry.revived = sb.id;
    return sb;
  }

  /** `holder` lets go; with no holder left the sandbox lives on for SANDBOX_WORKSPACE_TTL. */
  release(name: string, holder: string): void {
    const e = this.entries.get(name);
    if (!e || !e.holders.delete(holder) || e.holders.size > 0) return;
    this.armExpiry(e);
    // A cloud sandbox ends at its vendor timeout (E2B_TIMEOUT) when idle: make that the workspace TTL.
    const sb = e.sandbox;
    if (sb?.isAlive())
      void sb
        .keepAlive(this.config.workspaceTtlS * 1000)
        .catch((err: Error) =>
          this.log.warn(
            { workspace: name, err: err.message },
            'could not extend the workspace sandbox lifetime to SANDBOX_WORKSPACE_TTL',
          ),
        );
  }

  private armExpiry(entry: Entry): void {
    clearTimeout(entry.expiry);
    entry.expiry = setTimeout(() => void this.expire(entry), this.config.workspaceTtlS * 1000);
    entry.expiry.unref();
  }

  /** A workspace sandbox by id, for preview routing (it may have no session attached right now). */
  findSandbox(id: string): Sandbox | undefined {
    for (const e of this.entries.values()) {
      if (e.sandbox?.id !== id || !e.sandbox.isAlive()) continue;
      // A preview in use counts as use: the TTL starts again (throttled: requests come in bursts).
      if (e.holders.size === 0 && Date.now() - e.lastTouched > 1000) {
        e.lastTouched = Date.now();
        this.armExpiry(e);
      }
      return e.sandbox;
    }
    return undefined;
  }

  /** The names with a live sandbox, and how many sessions hold each. */
  list(): { name: string; sandboxId?: string; sessions: number }[] {
    return [...this.entries.values()].map((entry) => ({
      name: entry.name,
      sandboxId: entry.sandbox?.isAlive() ? entry.sandbox.id : undefined,
      sessions: entry.holders.size,
    }));
  }

  /** Server shutdown: every workspace sandbox ends (files stay where the provider keeps them). */
  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(
      all.map(async (entry) => {
        clearTimeout(entry.expiry);
        await entry.creating?.catch(() => undefined);
        await this.end(entry, 'session-closed', true);
      }),
    );
  }

  private async start(entry: Entry): Promise<Sandbox> {
    // Providers add the state dir's own label to every sandbox, so a name is enough to find it by.
    const labels = { [LABEL_WORKSPACE]: entry.name };
    this.limits.acquire();
    const started = performance.now();
    try {
      // A cloud workspace's sandbox is its only storage: one a previous server released is taken back.
      const sb =
        (await this.findReleased(labels)) ??
        (await this.provider.create({ labels, workspace: entry.name, timeoutMs: this.config.idleTimeoutS * 1000 }));
      entry.sandbox = sb;
      const ms = performance.now() - started;
      this.telemetry.sandboxCreated(ms, true);
      this.log.info({ workspace: entry.name, sandboxId: sb.id, ms: Math.round(ms) }, 'workspace sandbox ready');
      // Every holder left while it was being made: it still gets its full time to live.
      if (entry.holders.size === 0) this.armExpiry(entry);
      return sb;
    } catch (err) {
      this.limits.release();
      this.telemetry.sandboxCreated(performance.now() - started, false);
      throw err;
    }
  }

  private async expire(entry: Entry): Promise<void> {
    if (entry.holders.size > 0 || this.entries.get(entry.name) !== entry) return;
    if (entry.creating) await entry.creating.catch(() => undefined);
    if (entry.holders.size > 0) return;
    this.entries.delete(entry.name);
    this.log.info(
      { workspace: entry.name, ttlS: this.config.workspaceTtlS },
      'workspace sandbox ended: no session for SANDBOX_WORKSPACE_TTL',
    );
    await this.end(entry, 'idle');
  }

  private async findReleased(labels: Record<string, string>): Promise<Sandbox | undefined> {
    return this.provider.findReleased?.(labels).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'could not look for a released workspace sandbox; starting a new one');
      return undefined;
    });
  }

  /** `shutdown`: where the provider can keep it (cloud), the sandbox is released for the next server, not ended. */
  private async end(entry: Entry, reason: 'idle' | 'session-closed', shutdown = false): Promise<void> {
    const sb = entry.sandbox;
    entry.sandbox = undefined;
    if (!sb) return;
    this.limits.release();
    if (shutdown && sb.release && sb.isAlive()) {
      this.telemetry.sandboxEnded('shutdown');
      this.log.info({ workspace: entry.name, sandboxId: sb.id }, 'workspace sandbox released for the next server');
      await sb
        .release(this.config.workspaceTtlS * 1000)
        .catch((err: Error) =>
          this.log.warn({ workspace: entry.name, err: err.message }, 'releasing a workspace sandbox failed'),
        );
      return;
    }
    this.telemetry.sandboxEnded(reason);
    await sb
      .kill()
      .catch((err: Error) =>
        this.log.warn({ workspace: entry.name, err: err.message }, 'killing a workspace sandbox failed'),
      );
  }
}
