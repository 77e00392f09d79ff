import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest, type McpServer } from '@modelcontextprotocol/server';
import type { Config } from '../config.js';
import { SandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../sessions/manager.js';
import { requestedWorkspace, requestId, rpcError } from './http-io.js';

/**
 * Builds the McpServer of one 2025-era session; `sessionId` is known once initialize was answered, and
 * `headers` are the initialize request's.
 */
export type LegacyServerFactory = (
  sessionId: () => string,
  workspace: string | undefined,
  headers: IncomingHttpHeaders,
) => McpServer;

/**
 * The session table of the 2025-11-25 revision over streamable HTTP: one transport and one McpServer
 * per Mcp-Session-Id, a TTL for clients that vanish without DELETE, and SANDBOX_MAX_SESSIONS.
 */
export class LegacySessions {
  private readonly transports = new Map<string, NodeStreamableHTTPServerTransport>();
  private readonly lastSeen = new Map<string, number>();
  // POSTs still being answered, per session: a tool call that runs longer than the TTL is a session
  // in use, not a vanished client, and must get its answer (GET streams are only listening).
  private readonly openCalls = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly sessions: SessionManager,
    private readonly buildServer: LegacyServerFactory,
  ) {
    this.sweeper = setInterval(() => this.expireIdle(), Math.min(60_000, config.sessionTtlS * 250));
    this.sweeper.unref();
  }

  get size(): number {
    return this.transports.size;
  }

  /** Clients that vanish without DELETE would otherwise keep their session objects forever. */
  private expireIdle(): void {
    const cutoff = Date.now() - this.config.sessionTtlS * 1000;
    for (const [id, seen] of this.lastSeen) {
      if (seen < cutoff && !this.openCalls.get(id)) {
        this.log.info({ sessionId: id }, 'session expired after SANDBOX_SESSION_TTL without requests');
        void this.transports.get(id)?.close();
      }
    }
  }

  /**
   * At SANDBOX_MAX_SESSIONS, a new client displaces the longest-idle session that has no sandbox and no
   * call running: it loses nothing but its handshake (clients that only ever initialize would otherwise
   * grow memory until the TTL). False when every session holds a sandbox or is busy.
   */
  private makeRoom(): boolean {
    let victim: string | undefined;
    for (const [id, seen] of this.lastSeen) {
      if (this.openCalls.get(id) || this.sessions.holdsSandbox(id)) continue;
      if (victim === undefined || seen < this.lastSeen.get(victim)!) victim = id;
    }
    if (victim === undefined) return false;
    this.log.info(
      { sessionId: victim, sessions: this.transports.size },
      'session displaced at SANDBOX_MAX_SESSIONS (it had no sandbox)',
    );
    const t = this.transports.get(victim);
    this.transports.delete(victim);
    this.lastSeen.delete(victim);
    void t?.close();
    return true;
  }

  /** Serves a 2025-era request: one of a known session, or an initialize that starts one. */
  async handle(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const sessionId = req.headers['mcp-session-id'];
    const id = requestId(body);
    if (typeof sessionId === 'string') {
      const transport = this.transports.get(sessionId);
      if (!transport) return rpcError(res, 404, 'unknown or expired session: start a new one with initialize', { id });
      this.lastSeen.set(sessionId, Date.now());
      if (req.method === 'POST') this.countOpenCall(sessionId, res);
      return transport.handleRequest(req, res, body);
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      return rpcError(res, 400, 'no Mcp-Session-Id header: send initialize first to start a session', { id });
    }
    const workspace = requestedWorkspace(req.headers['sandbox-workspace'], req.url);
    if (workspace instanceof SandboxError) return rpcError(res, 400, `${workspace.message}; ${workspace.hint}`, { id });
    if (this.transports.size >= this.config.maxSessions && !this.makeRoom()) {
      return rpcError(
        res,
        503,
        `this server holds ${this.transports.size} sessions, its limit (SANDBOX_MAX_SESSIONS), and each has a sandbox or a call running: retry later, end unused sessions with DELETE, or raise SANDBOX_MAX_SESSIONS`,
        { headers: { 'retry-after': '30' }, id },
      );
    }
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (newId) => {
        this.transports.set(newId, transport);
        this.lastSeen.set(newId, Date.now());
        this.log.info({ sessionId: newId, sessions: this.transports.size }, 'session started');
      },
      // Awaited before the transport closes its streams: calls still running get their answer first.
      onsessionclosed: async (closedId) => {
        this.log.info({ sessionId: closedId }, 'session deleted by client');
        await this.sessions.close(closedId, 1000);
      },
    });
    transport.onclose = () => {
      const closedId = transport.sessionId;
      if (!closedId) return;
      this.transports.delete(closedId);
      this.lastSeen.delete(closedId);
      this.openCalls.delete(closedId);
      void this.sessions.close(closedId);
    };
    const server = this.buildServer(() => transport.sessionId!, workspace, req.headers);
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  private countOpenCall(sessionId: string, res: ServerResponse): void {
    this.openCalls.set(sessionId, (this.openCalls.get(sessionId) ?? 0) + 1);
    res.once('close', () => {
      const left = (this.openCalls.get(sessionId) ?? 1) - 1;
      if (left > 0) this.openCalls.set(sessionId, left);
      else this.openCalls.delete(sessionId);
      if (this.lastSeen.has(sessionId)) this.lastSeen.set(sessionId, Date.now());
    });
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.transports.values()].map((t) => t.close().catch(() => undefined)));
  }

  stopSweeper(): void {
    clearInterval(this.sweeper);
  }
}
