import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { SandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Sandbox, SandboxProvider } from '../providers/types.js';
import type { Telemetry } from '../telemetry.js';
import type { WorkspaceRegistry } from './workspaces.js';

export type ClientLogLevel = 'warning' | 'error';

export interface SessionLimits {
  /** Asks for a slot before a sandbox is created; throws when the server is at its cap. */
  acquire(): void;
  release(): void;
}

export interface SessionDeps {
  provider: SandboxProvider;
  config: Config;
  limits: SessionLimits;
  telemetry: Telemetry;
  /** Set when the session is bound to a named workspace: its sandbox then comes from (and returns to) there. */
  workspace?: { name: string; registry: WorkspaceRegistry };
  /**
   * Called once the session went idle and let go of its sandbox. Sessions that no connection owns
   * (a handle's, a stateless request's workspace) end there instead of living on without a sandbox.
   */
  onIdle?: () => void;
  /**
   * A stateless handle's session on a provider any replica reaches (sealed handles): its sandbox is
   * this one, never replaced; other replicas attach to it too, so this server never ends it by itself
   * (idle and shutdown only let go of it: the provider's timeout reaps it); sandbox_delete kills it.
   */
  portable?: {
    /** The sandbox to attach to (a replica that did not create it), else one is created. */
    attach?: string;
    labels: Record<string, string>;
    /** Deploy ownership: the same on every replica. */
    principalKey: string;
    /** The provider no longer has the sandbox. */
    onGone: () => void;
    goneError: () => SandboxError;
  };
}

/** Something a session owns besides its sandbox (the browser, ...), closed before the sandbox is killed. */
export interface SessionService {
  close(): Promise<void>;
  /** The session went idle and let go of a sandbox that lives on (a named workspace): free what it holds there. */
  suspend?(): Promise<void>;
}

/**
 * One MCP session's lease on a sandbox: created at the first call that needs it, replaced (with a
 * note to the model) after an idle timeout or a crash, killed when the session ends.
 */
export class Session {
  private current?: Sandbox;
  private creating?: Promise<Sandbox>;
  private inFlight = 0;
  private idleTimer?: NodeJS.Timeout;
  private lastActivity = Date.now();
  private pendingNotes: string[] = [];
  private closed = false;
  /** Set by the MCP layer: forwards warnings and errors to the client (MCP logging). */
  clientLog?: (level: ClientLogLevel, message: string) => void;
  readonly provider: SandboxProvider;
  private readonly config: Config;
  private readonly limits: SessionLimits;
  private readonly telemetry: Telemetry;
  private readonly services = new Map<string, SessionService>();
  private readonly workspace?: SessionDeps['workspace'];
  private readonly onIdle?: () => void;
  private readonly portable?: SessionDeps['portable'];
  private wentAway = false;
  /** The workspace sandbox this session used last, to tell the model when it was replaced meanwhile. */
  private lastWorkspaceSandbox?: string;
  private readonly ending = new AbortController();
  /**
   * Who owns what this session deploys: its named workspace (so its sites stay its own across sessions
   * and server restarts), else this session alone. A random key rather than the session id: every stdio
   * session is called "stdio", and a stdio server the client starts again is a new session.
   */
  readonly principal: { kind: 'workspace' | 'session'; key: string };

  constructor(
    readonly id: string,
    readonly log: Logger,
    deps: SessionDeps,
  ) {
    ({
      provider: this.provider,
      config: this.config,
      limits: this.limits,
      telemetry: this.telemetry,
      workspace: this.workspace,
      onIdle: this.onIdle,
      portable: this.portable,
    } = deps);
    this.principal = this.workspace
      ? { kind: 'workspace', key: this.workspace.name }
      : { kind: 'session', key: this.portable?.principalKey ?? randomBytes(16).toString('hex') };
  }

  /** The named workspace this session is bound to, if any, and how many sessions share it now. */
  get workspaceShare(): { name: string; sessions: number } | undefined {
    if (!this.workspace) return undefined;
    const { name, registry } = this.workspace;
    return { name, sessions: registry.list().find((w) => w.name === name)?.sessions ?? 0 };
  }

  /**
   * Aborted when a workspace session ends: its sandbox lives on, so its running calls must be stopped
   * (a session of its own ends them by killing its sandbox).
   */
  get endSignal(): AbortSignal {
    return this.ending.signal;
  }

  /** The session was closed (deleted, expired, server shutting down): its calls cannot be retried here. */
  get ended(): boolean {
    return this.closed;
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }

  private warn(message: string, fields: Record<string, unknown> = {}): void {
    this.log.warn(fields, message);
    this.clientLog?.('warning', message);
  }

  /** The session's sandbox, created on first use. */
  async sandbox(): Promise<Sandbox> {
    if (this.closed)
      throw new SandboxError('SANDBOX_GONE', 'this session has ended', { hint: 'start a new MCP session' });
    if (this.current?.isAlive()) return this.current;
    if (this.workspace) return this.workspaceSandbox(this.workspace);
    if (this.portable) return this.portableSandbox(this.portable);
    if (this.current) {
      const why = this.current.endReason ?? 'ended unexpectedly';
      this.pendingNotes.push(
        `Note: the previous sandbox of this session ${why}; this is a fresh sandbox, and files and processes of the old one are gone.`,
      );
      this.warn(`sandbox ${why}; a fresh one is being created`, { sandboxId: this.current.id });
      this.telemetry.sandboxEnded('crashed');
      this.dropSandbox();
    }
    this.creating ??= this.createSandbox().finally(() => {
      this.creating = undefined;
    });
    return this.creating;
  }

  /** A workspace session takes the workspace's shared sandbox instead of creating one of its own. */
  private async workspaceSandbox(workspaceDeps: NonNullable<SessionDeps['workspace']>): Promise<Sandbox> {
    const previous = this.current?.id ?? this.lastWorkspaceSandbox;
    const why = this.current && !this.current.isAlive() ? this.current.endReason : undefined;
    const lease = await workspaceDeps.registry.acquire(workspaceDeps.name, this.id);
    if (this.closed) {
      workspaceDeps.registry.release(workspaceDeps.name, this.id);
      throw new SandboxError('SANDBOX_GONE', 'this session ended while its workspace sandbox was being started');
    }
    if (lease.replaced || (previous && previous !== lease.sandbox.id)) {
      const kept = lease.filesKept ?? (this.provider.name === 'local' || this.provider.name === 'docker');
      const files = kept ? 'its /workspace files are kept' : 'its files are gone';
      const note = `Note: the sandbox of workspace "${workspaceDeps.name}" was restarted (it ${why ?? 'ended or stayed unused too long'}): ${files}, its processes are gone.`;
      this.pendingNotes.push(note);
      this.warn(note, { workspace: workspaceDeps.name, sandboxId: lease.sandbox.id });
    }
    this.current = lease.sandbox;
    this.lastWorkspaceSandbox = lease.sandbox.id;
    return lease.sandbox;
  }

  /** A portable handle's one sandbox: created here, or attached to where another replica made it. */
  private async portableSandbox(portable: NonNullable<SessionDeps['portable']>): Promise<Sandbox> {
    if (this.current) {
      // It died under us: the handle's sandbox is that one, and every replica must see it gone.
      this.dropSandbox();
      this.markGone(portable);
      throw portable.goneError();
    }
    this.creating ??= (
      portable.attach ? this.attachSandbox(portable.attach, portable) : this.createSandbox(portable.labels)
    )
      .then((sandbox) => {
        portable.attach = sandbox.id;
        return sandbox;
      })
      .finally(() => {
        this.creating = undefined;
      });
    return this.creating;
  }

  private async attachSandbox(id: string, portable: NonNullable<SessionDeps['portable']>): Promise<Sandbox> {
    this.limits.acquire();
    try {
      const sb = await this.provider.connect(id);
      if (this.closed) {
        sb.detach?.();
        throw new SandboxError('SANDBOX_GONE', 'this session ended while its sandbox was being attached');
      }
      this.current = sb;
      this.log.info({ sandboxId: sb.id }, 'attached to the sandbox of a handle');
      return sb;
    } catch (e) {
      this.limits.release();
      const code = (e as SandboxError).code;
      if (code !== 'NOT_FOUND' && code !== 'SANDBOX_GONE') throw e;
      this.markGone(portable);
      throw portable.goneError();
    }
  }

  /** The provider no longer has a portable handle's sandbox: the handle ends (see explain). */
  get gone(): boolean {
    return this.wentAway;
  }

  private markGone(portable: NonNullable<SessionDeps['portable']>): void {
    this.wentAway = true;
    portable.onGone();
  }

  /**
   * A failed call's error as the model should read it: on a portable handle, a sandbox the provider
   * lost is the handle's end (no fresh sandbox follows), said once for all replicas alike.
   */
  explain(err: unknown): unknown {
    const p = this.portable;
    if (!p || (err as SandboxError | undefined)?.code !== 'SANDBOX_GONE' || this.current?.isAlive()) return err;
    if (this.current) this.dropSandbox();
    this.markGone(p);
    return p.goneError();
  }

  private async createSandbox(labels: Record<string, string> = {}): Promise<Sandbox> {
    this.limits.acquire();
    const started = performance.now();
    try {
      const sb = await this.provider.create({
        labels: { session: this.id, ...labels },
        timeoutMs: this.config.idleTimeoutS * 1000,
      });
      if (this.closed) {
        await sb.kill();
        throw new SandboxError('SANDBOX_GONE', 'this session ended while its sandbox was being created');
      }
      this.current = sb;
      const ms = performance.now() - started;
      this.telemetry.sandboxCreated(ms, true);
      this.log.info({ sandboxId: sb.id, ms: Math.round(ms) }, 'sandbox created');
      return sb;
    } catch (e) {
      this.limits.release();
      this.telemetry.sandboxCreated(performance.now() - started, false);
      this.warn(`sandbox creation failed: ${(e as Error).message}`);
      throw e;
    }
  }

  /** The session's service under `key`, made by `make` at first use. */
  service<T extends SessionService>(key: string, make: () => T): T {
    let s = this.services.get(key) as T | undefined;
    if (!s) {
      s = make();
      this.services.set(key, s);
    }
    return s;
  }

  get sandboxIfStarted(): Sandbox | undefined {
    return this.current?.isAlive() ? this.current : undefined;
  }

  /** When the sandbox will be reaped if nothing happens, or undefined while a call runs. */
  get expiresAt(): Date | undefined {
    return this.inFlight > 0 ? undefined : new Date(this.lastActivity + this.config.idleTimeoutS * 1000);
  }

  /** Notes for the model about what happened since its last call (fresh sandbox, ...). */
  takeNotes(): string[] {
    return this.pendingNotes.splice(0);
  }

  beginCall(): void {
    this.inFlight++;
    this.lastActivity = Date.now();
    clearTimeout(this.idleTimer);
  }

  endCall(): void {
    this.inFlight--;
    this.lastActivity = Date.now();
    this.armIdle();
  }

  /** Traffic outside tool calls (a preview being browsed) keeps the sandbox from idling out too. */
  touch(): void {
    if (Date.now() - this.lastActivity < 1000) return;
    this.lastActivity = Date.now();
    this.armIdle();
  }

  private armIdle(): void {
    if (this.inFlight === 0 && !this.closed) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => void this.reapIdle(), this.config.idleTimeoutS * 1000);
      this.idleTimer.unref();
    }
  }

  private async reapIdle(): Promise<void> {
    if (this.inFlight > 0 || !this.current) return;
    if (this.workspace) {
      // The workspace's sandbox is shared and outlives sessions: an idle session only lets go of it,
      // and of what it runs there for itself (its Chromium).
      this.current = undefined;
      this.workspace.registry.release(this.workspace.name, this.id);
      await Promise.all(
        [...this.services.values()].map((sessionService) =>
          sessionService
            .suspend?.()
            .catch((e: Error) => this.log.warn({ err: e.message }, 'suspending a session service failed')),
        ),
      );
      this.onIdle?.();
      return;
    }
    const id = this.current.id;
    if (this.portable) {
      // Other replicas may use it still: let go; the provider's timeout ends it once no replica does.
      this.log.info({ sandboxId: id, idleS: this.config.idleTimeoutS }, 'let go of an idle handle sandbox');
      this.dropSandbox();
      this.onIdle?.();
      return;
    }
    this.log.info({ sandboxId: id, idleS: this.config.idleTimeoutS }, 'idle sandbox reaped');
    this.telemetry.sandboxEnded('idle');
    this.pendingNotes.push(
      `Note: the previous sandbox was idle for more than ${this.config.idleTimeoutS} s and was deleted with its files and processes; this is a fresh sandbox.`,
    );
    const sb = this.current;
    this.dropSandbox();
    await sb.kill().catch((e) => this.log.warn({ err: (e as Error).message }, 'killing idle sandbox failed'));
    this.onIdle?.();
  }

  private dropSandbox(): void {
    if (!this.current) return;
    const sb = this.current;
    this.current = undefined;
    if (this.workspace) return; // the registry replaces a workspace's dead sandbox
    this.limits.release();
    if (this.portable) sb.detach?.();
    else if (sb.isAlive()) void sb.kill().catch(() => undefined);
  }

  /**
   * Kills the sandbox's processes and removes its workspace. `keep` (server shutdown): a portable
   * handle's sandbox is only let go of, for the other replicas and the provider's timeout.
   */
  async close(opts: { keep?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    const pending = this.creating?.catch(() => undefined);
    await pending;
    await Promise.all(
      [...this.services.values()].map((sessionService) =>
        sessionService
          .close()
          .catch((e) => this.log.warn({ err: (e as Error).message }, 'closing a session service failed')),
      ),
    );
    if (this.workspace) {
      this.current = undefined;
      this.workspace.registry.release(this.workspace.name, this.id);
      this.ending.abort();
      return;
    }
    const sb = this.current;
    if (sb && opts.keep && this.portable) {
      this.dropSandbox();
      this.log.info({ sandboxId: sb.id }, 'shutting down: left the handle sandbox to the other replicas');
    } else if (sb) {
      this.current = undefined;
      this.limits.release();
      await sb.kill().catch((e) => this.log.warn({ err: (e as Error).message }, 'killing sandbox failed'));
      this.telemetry.sandboxEnded('session-closed');
      this.log.info({ sandboxId: sb.id }, 'session closed, sandbox removed');
    }
  }
}
