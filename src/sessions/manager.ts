import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config.js';
import { SandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Sandbox, SandboxProvider } from '../providers/types.js';
import { noTelemetry, type Telemetry } from '../telemetry.js';
import { HandleCodec, sharedHandleSecret, STATELESS_SCOPE, type Caller } from './handles.js';
import { SandboxHandles } from './sandbox-handles.js';
import { Session, type SessionDeps, type SessionLimits } from './session.js';
import { WorkspaceRegistry } from './workspaces.js';

/**
 * How one connection's or one request's tool calls find their session. Built by the MCP wiring: it
 * knows the connection (stdio, a 2025-era HTTP session) or the request (2026-07-28 HTTP, stateless).
 */
export interface CallRouter {
  /**
   * The session a call reaches: the one its `sandbox` handle names, else (DESIGN.md, "Which sandbox a
   * call reaches") the request's named workspace or the connection's own. Throws a SandboxError that
   * tells the model what went wrong and how to get a sandbox.
   */
  session(handle?: string): Session;
  /** sandbox_create: a new handle, bound to this caller's token and connection. */
  create(workspace?: string): Promise<{ handle: string; session: Session }>;
  /** sandbox_delete. */
  delete(handle: string): Promise<{ workspace?: string }>;
  /**
   * The connection's own session, if the call came over a connection (stdio or a 2025-era session).
   * Made at its first use: an HTTP session has its id only once initialize was answered.
   */
  connection(): Session | undefined;
}

/** Stateless requests that name a workspace share one session of it, ended when it idles. */
const STATELESS_WORKSPACE = 'workspace:';
/** The handle scope of a connection's session (a 2025-era HTTP session, stdio). */
const connectionScope = (sessionId: string) => `conn:${sessionId}`;
const NO_SANDBOX =
  'this request reaches no sandbox: over MCP 2026-07-28 (stateless HTTP) a call names the sandbox it works in';
const GET_A_HANDLE =
  'call sandbox_create once, then pass the sandbox it returns to every later call (or name a workspace with a Sandbox-Workspace header or ?workspace= on the MCP URL)';

/** MCP session id -> Session. Each tool call reaches only the sandbox of its own session. */
export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private sandboxes = 0;
  private readonly limits: SessionLimits = {
    acquire: () => {
      if (this.sandboxes >= this.config.maxSandboxes) {
        // A workspace's sandbox outlives its sessions: ending sessions cannot free its slot before the TTL.
        const unheld = this.workspaces.list().filter((w) => w.sandboxId && w.sessions === 0).length;
        const kept = unheld
          ? `; ${unheld} of them belong to named workspaces with no session attached, kept for SANDBOX_WORKSPACE_TTL (${this.config.workspaceTtlS} s) after their last session`
          : '';
        throw new SandboxError(
          'LIMIT_EXCEEDED',
          `this server already runs ${this.sandboxes} sandboxes, its limit${kept}`,
          { hint: 'end idle sessions, or raise SANDBOX_MAX_SANDBOXES' },
        );
      }
      this.telemetry.sandboxesActive(++this.sandboxes);
    },
    release: () => {
      this.telemetry.sandboxesActive(--this.sandboxes);
    },
  };
  readonly workspaces: WorkspaceRegistry;
  readonly handles: SandboxHandles;

  constructor(
    readonly provider: SandboxProvider,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {
    this.workspaces = new WorkspaceRegistry(provider, config, log, this.limits, telemetry);
    // Local sandboxes live on this machine only: their handles name it, so another host can say so.
    const host = provider.name === 'local' ? os.hostname().slice(0, 63) : undefined;
    this.handles = new SandboxHandles(
      new HandleCodec(
        path.join(config.stateDir, 'handle.key'),
        host,
        config.handleKey ? sharedHandleSecret(config.handleKey) : undefined,
      ),
      this,
      config,
      log,
    );
  }

  /**
   * The session with this id, made at its first use. `workspace` (validated by the caller) binds a new
   * session to that named workspace; without it, SANDBOX_WORKSPACE does, else it gets a sandbox of its own.
   */
  open(
    id: string,
    opts: { workspace?: string | null; onIdle?: () => void; portable?: SessionDeps['portable'] } = {},
  ): Session {
    const existing = this.sessions.get(id);
    if (existing) return existing;
    // null: a sandbox of its own even where SANDBOX_WORKSPACE names a default (sandbox_create).
    const name = opts.workspace === null ? undefined : (opts.workspace ?? this.config.workspace);
    const session: Session = new Session(id, this.log.child({ sessionId: id, ...(name ? { workspace: name } : {}) }), {
      provider: this.provider,
      config: this.config,
      limits: this.limits,
      telemetry: this.telemetry,
      workspace: name ? { name, registry: this.workspaces } : undefined,
      onIdle: opts.onIdle,
      portable: opts.portable,
    });
    this.sessions.set(id, session);
    return session;
  }

  /**
   * Where a call goes (DESIGN.md, "Which sandbox a call reaches"): the named workspace of a stateless
   * request (its header, else SANDBOX_WORKSPACE), else the connection's own session. A stateless request
   * with neither has no sandbox to reach, and is told how to get one.
   */
  router(options: { connection?: () => Session; workspace?: string | SandboxError; principal: string }): CallRouter {
    const connection = () => options.connection?.();
    const caller = (): Caller => {
      const own = connection();
      return { principal: options.principal, scope: own ? connectionScope(own.id) : STATELESS_SCOPE };
    };
    return {
      connection,
      session: (handle) => {
        if (handle !== undefined) return this.handles.session(handle, caller());
        const own = connection();
        if (own) return own;
        if (options.workspace instanceof SandboxError) throw options.workspace;
        const name = options.workspace ?? this.config.workspace;
        if (name) return this.statelessWorkspace(name);
        throw new SandboxError('INVALID_ARGUMENT', NO_SANDBOX, { hint: GET_A_HANDLE });
      },
      create: (workspace) => this.handles.create(caller(), workspace),
      delete: (handle) => this.handles.delete(handle, caller()),
    };
  }

  /** The session stateless requests naming this workspace share; it ends when it idles. */
  private statelessWorkspace(name: string): Session {
    const id = `${STATELESS_WORKSPACE}${name}`;
    const session: Session = this.open(id, {
      workspace: name,
      // A call that arrived while the session was letting go keeps it: it has taken the sandbox again.
      onIdle: () => {
        if (!session.busy && this.sessions.get(id) === session) void this.close(id);
      },
    });
    return session;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  /**
   * The live sandbox with this id, if a session of this server holds it (preview routing). Counts as
   * activity of that session, so a preview in use is not reaped as idle.
   */
  findSandbox(id: string): Sandbox | undefined {
    for (const s of this.sessions.values()) {
      const sb = s.sandboxIfStarted;
      if (sb && sb.id === id) {
        s.touch();
        return sb;
      }
    }
    return this.workspaces.findSandbox(id);
  }

  /** Whether the session has a live sandbox (state a client would lose if the session went). */
  holdsSandbox(id: string): boolean {
    return !!this.sessions.get(id)?.sandboxIfStarted;
  }

  get size(): number {
    return this.sessions.size;
  }

  get activeSandboxes(): number {
    return this.sandboxes;
  }

  /**
   * Ends a session. Its calls still running then fail; `settleMs` gives them time to hand that result
   * to their transport (an HTTP stream closed first would end with no answer, leaving the client hanging).
   */
  async close(id: string, settleMs = 0): Promise<void> {
    await this.handles.endScope(connectionScope(id));
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    await s.close();
    await settle([s], settleMs);
  }

  /** Waits up to `graceMs` for in-flight tool calls to finish (graceful shutdown). */
  async drain(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.sessions.values()].some((s) => s.busy)) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Server shutdown: every session, then the workspace sandboxes they leave behind. The sandboxes of
   * portable handles live on for the other replicas (see SessionDeps.portable).
   */
  async closeAll(settleMs = 0): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.close({ keep: true })));
    // A workspace session only lets go of its sandbox: its calls fail once the workspaces end, and
    // must get to answer after that, within the settle time, not before it.
    await this.workspaces.closeAll();
    await settle(all, settleMs);
  }
}

/** Waits up to `ms` for the sessions' calls to return (each with the result that says it was stopped). */
async function settle(sessions: Session[], ms: number): Promise<void> {
  if (!ms) return;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && sessions.some((s) => s.busy)) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setImmediate(r));
}
