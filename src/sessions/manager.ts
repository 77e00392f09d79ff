import type { Config } from '../config.js';
import { SandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Sandbox, SandboxProvider } from '../providers/types.js';
import { noTelemetry, type Telemetry } from '../telemetry.js';
import { Session, type SessionLimits } from './session.js';
import { WorkspaceRegistry } from './workspaces.js';

/** MCP session id -> Session. Each tool call reaches only the sandbox of its own session. */
export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private sandboxes = 0;
  private readonly limits: SessionLimits = {
    acquire: () => {
      if (this.sandboxes >= this.config.maxSandboxes) {
        // A workspace's sandbox outlives its sessions: ending sessions cannot free its slot before the TTL.
        const unheld = this.workspaces.list().filter((w) => w.sandboxId && w.sessions === 0).length;
        const kept = unheld ? `; ${unheld} of them belong to named workspaces with no session attached, kept for SANDBOX_WORKSPACE_TTL (${this.config.workspaceTtlS} s) after their last session` : '';
        throw new SandboxError('LIMIT_EXCEEDED', `this server already runs ${this.sandboxes} sandboxes, its limit${kept}`, { hint: 'end idle sessions, or raise SANDBOX_MAX_SANDBOXES' });
      }
      this.telemetry.sandboxesActive(++this.sandboxes);
    },
    release: () => { this.telemetry.sandboxesActive(--this.sandboxes); },
  };
  readonly workspaces: WorkspaceRegistry;

  constructor(
    readonly provider: SandboxProvider,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {
    this.workspaces = new WorkspaceRegistry(provider, config, log, this.limits, telemetry);
  }

  /**
   * The session with this id, made at its first use. `workspace` (validated by the caller) binds a new
   * session to that named workspace; without it, SANDBOX_WORKSPACE does, else it gets a sandbox of its own.
   */
  open(id: string, opts: { workspace?: string } = {}): Session {
    const existing = this.sessions.get(id);
    if (existing) return existing;
    const name = opts.workspace ?? this.config.workspace;
    const session = new Session(id, this.log.child({ sessionId: id, ...(name ? { workspace: name } : {}) }), {
      provider: this.provider, config: this.config, limits: this.limits, telemetry: this.telemetry,
      workspace: name ? { name, registry: this.workspaces } : undefined,
    });
    this.sessions.set(id, session);
    return session;
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

  /** Server shutdown: every session, then the workspace sandboxes they leave behind. */
  async closeAll(settleMs = 0): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.close()));
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
