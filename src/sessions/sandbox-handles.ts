import type { Config } from '../config.js';
import { SandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import { handleSessionId, HandleTombstones, type Caller, type HandleCodec, type HandleEnd } from './handles.js';
import type { Session } from './session.js';

/** What the handles need of the session manager: sessions opened and closed under their own ids. */
export interface HandleSessions {
  open(id: string, opts: { workspace?: string | null; onIdle?: () => void }): Session;
  get(id: string): Session | undefined;
  close(id: string, settleMs?: number): Promise<void>;
}

interface LiveHandle {
  sessionId: string;
  scope: string;
  workspace?: string;
}

/**
 * The live handles of this server: each owns a session (a sandbox of its own, or a lease on a named
 * workspace's) that ends when it idles, when sandbox_delete deletes it, or with the connection that
 * created it (a 2025-era session or stdio; handles of stateless requests have no connection).
 */
export class SandboxHandles {
  private readonly live = new Map<string, LiveHandle>();
  private readonly tombstones = new HandleTombstones();

  constructor(
    private readonly codec: HandleCodec,
    private readonly sessions: HandleSessions,
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.live.size;
  }

  /** A new handle and its session, whose sandbox is started now: sandbox_create reports a failure itself. */
  async create(caller: Caller, workspace?: string): Promise<{ handle: string; session: Session }> {
    if (this.live.size >= this.config.maxSessions) {
      throw new SandboxError(
        'LIMIT_EXCEEDED',
        `this server holds ${this.live.size} sandbox handles, its limit (SANDBOX_MAX_SESSIONS)`,
        { hint: 'delete handles you no longer use with sandbox_delete, or retry after idle ones expire' },
      );
    }
    const { handle, id } = this.codec.mint(caller);
    const sessionId = handleSessionId(id);
    // Without a workspace, a sandbox of its own: that is what the model asked sandbox_create for.
    this.live.set(id, { sessionId, scope: caller.scope, workspace });
    const session = this.sessions.open(sessionId, {
      workspace: workspace ?? null,
      onIdle: () => void this.end(id, 'idle'),
    });
    // As a call: the idle clock starts when it returns, so a handle never used still expires.
    session.beginCall();
    try {
      await session.sandbox();
    } catch (e) {
      await this.end(id, 'deleted');
      throw e;
    } finally {
      session.endCall();
    }
    this.log.info({ sessionId, workspace, handles: this.live.size }, 'sandbox handle created');
    return { handle, session };
  }

  /** The session a handle names, once it is proven ours, the caller's and alive. */
  session(handle: string, caller: Caller): Session {
    return this.find(handle, caller).session;
  }

  /** Ends a handle's session (its sandbox, or its lease on a workspace's); the handle expires with it. */
  async delete(handle: string, caller: Caller): Promise<{ workspace?: string }> {
    const { id, workspace } = this.find(handle, caller);
    await this.end(id, 'deleted', 1000);
    return { workspace };
  }

  private find(handle: string, caller: Caller): { id: string; session: Session; workspace?: string } {
    const { id } = this.codec.verify(handle, caller);
    const live = this.live.get(id);
    const session = live && this.sessions.get(live.sessionId);
    if (!session || session.ended) throw this.tombstones.expired(id, this.config.idleTimeoutS);
    return { id, session, workspace: live.workspace };
  }

  /** Ends the handles a connection created, with it. */
  async endScope(scope: string): Promise<void> {
    await Promise.all(
      [...this.live].filter(([, h]) => h.scope === scope).map(([id]) => this.end(id, 'connection-ended')),
    );
  }

  private async end(id: string, reason: HandleEnd, settleMs = 0): Promise<void> {
    const h = this.live.get(id);
    if (!h) return;
    this.live.delete(id);
    this.tombstones.add(id, reason, h.workspace);
    this.log.info({ sessionId: h.sessionId, reason }, 'sandbox handle ended');
    await this.sessions.close(h.sessionId, settleMs);
  }
}
