import type { Config } from '../config.js';
import { SandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import { LABEL_HANDLE } from '../providers/shared/owner.js';
import {
  handleSessionId,
  HandleTombstones,
  STATELESS_SCOPE,
  type Caller,
  type HandleCodec,
  type HandleEnd,
  type HandleRef,
} from './handles.js';
import type { Session, SessionDeps } from './session.js';

/** What the handles need of the session manager: sessions opened and closed under their own ids. */
export interface HandleSessions {
  open(
    id: string,
    opts: { workspace?: string | null; onIdle?: () => void; portable?: SessionDeps['portable'] },
  ): Session;
  get(id: string): Session | undefined;
  close(id: string, settleMs?: number): Promise<void>;
}

interface LiveHandle {
  sessionId: string;
  scope: string;
  workspace?: string;
  /** Any replica reaches its sandbox (a stateless handle, sealed): see SessionDeps.portable. */
  portable: boolean;
}

/**
 * The live handles of this server: each owns a session (a sandbox of its own, or a lease on a named
 * workspace's) that ends when it idles, when sandbox_delete deletes it, or with the connection that
 * created it (a 2025-era session or stdio; handles of stateless requests have no connection).
 *
 * Stateless handles on providers any replica reaches (e2b, daytona, docker) are sealed: they carry
 * what they reach, so a replica that never saw one attaches to its sandbox at its first call, and
 * this server's idleness or shutdown only lets go of it (the provider's timeout reaps it).
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
    const id = this.codec.newId();
    // Without a workspace, a sandbox of its own: that is what the model asked sandbox_create for.
    const session = this.open(id, caller.scope, workspace ? { workspace } : undefined);
    // As a call: the idle clock starts when it returns, so a handle never used still expires.
    session.beginCall();
    let sandboxId: string;
    try {
      sandboxId = (await session.sandbox()).id;
    } catch (e) {
      await this.end(id, 'deleted');
      throw e;
    } finally {
      session.endCall();
    }
    const { handle } = this.codec.mint(caller, { id, ref: workspace ? { workspace } : { sandbox: sandboxId } });
    this.log.info({ sessionId: session.id, workspace, handles: this.live.size }, 'sandbox handle created');
    return { handle, session };
  }

  /** The session a handle names, once it is proven ours, the caller's and alive. */
  session(handle: string, caller: Caller): Session {
    return this.find(handle, caller).session;
  }

  /** Ends a handle's session (its sandbox, or its lease on a workspace's); the handle expires with it. */
  async delete(handle: string, caller: Caller): Promise<{ workspace?: string }> {
    const { id, session, workspace, portable } = this.find(handle, caller);
    // A replica that never used the handle attaches first: the sandbox to delete may live elsewhere.
    if (portable) await session.sandbox();
    await this.end(id, 'deleted', 1000);
    return { workspace };
  }

  private find(
    handle: string,
    caller: Caller,
  ): { id: string; session: Session; workspace?: string; portable: boolean } {
    const { id, ref } = this.codec.verify(handle, caller);
    const live = this.live.get(id);
    let session = live && this.sessions.get(live.sessionId);
    if (!session && ref && caller.scope === STATELESS_SCOPE && !this.tombstones.has(id)) {
      // Made by another replica, or by this one before it let go: what the handle reaches is in it.
      session = this.open(id, caller.scope, ref);
    }
    const found = this.live.get(id);
    if (!session || session.ended || !found) throw this.tombstones.expired(id, this.config.idleTimeoutS);
    return { id, session, workspace: found.workspace, portable: found.portable };
  }

  /** The session of handle `id`: with `ref`, of what a sealed handle reaches; without, a new sandbox. */
  private open(id: string, scope: string, ref?: HandleRef): Session {
    const sessionId = handleSessionId(id);
    const workspace = ref && 'workspace' in ref ? ref.workspace : undefined;
    const portable = this.codec.sealed && scope === STATELESS_SCOPE && !workspace;
    this.live.set(id, { sessionId, scope, workspace, portable });
    return this.sessions.open(sessionId, {
      workspace: workspace ?? null,
      onIdle: () => void (portable ? this.forget(id) : this.end(id, 'idle')),
      portable: portable
        ? {
            attach: ref && 'sandbox' in ref ? ref.sandbox : undefined,
            labels: { [LABEL_HANDLE]: sessionId },
            principalKey: sessionId,
            onGone: () => void this.end(id, 'gone'),
            goneError: () => this.tombstones.expired(id, this.config.idleTimeoutS),
          }
        : undefined,
    });
  }

  /** Ends the handles a connection created, with it. */
  async endScope(scope: string): Promise<void> {
    await Promise.all(
      [...this.live].filter(([, h]) => h.scope === scope).map(([id]) => this.end(id, 'connection-ended')),
    );
  }

  /** A portable handle this server let go of (idle here): its next call here attaches again. */
  private async forget(id: string): Promise<void> {
    const h = this.live.get(id);
    if (!h) return;
    this.live.delete(id);
    await this.sessions.close(h.sessionId);
  }

  private async end(id: string, reason: HandleEnd, settleMs = 0): Promise<void> {
    const h = this.live.get(id);
    // Recorded first: the tombstone is what the handle's own gone error reads.
    this.tombstones.add(id, reason, h?.workspace);
    if (!h) return;
    this.live.delete(id);
    this.log.info({ sessionId: h.sessionId, reason }, 'sandbox handle ended');
    await this.sessions.close(h.sessionId, settleMs);
  }
}
