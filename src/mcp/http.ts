import { randomUUID, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { WORKSPACE_NAME, WORKSPACE_NAME_RULE } from '../config.js';
import { SandboxError } from '../errors.js';
import { httpTimeouts, limitConnectionsPerClient } from '../http-limits.js';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../sessions/manager.js';
import { buildServer, type ServerDeps } from './server.js';
import type { ToolDefinition } from './tool.js';

export interface HttpServerHandle {
  url: string;
  port: number;
  /** Shutdown, first step: no new connections or requests (503); calls in flight keep their streams. */
  stopAccepting(): void;
  close(): Promise<void>;
}

/** Extra routes (health, metrics, previews) that other layers mount on the same listener. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
/** Protocol upgrades (WebSockets to previews); returns true when it took the socket. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean | Promise<boolean>;

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

function hostName(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(hostHeader.trim().toLowerCase());
  return m?.[1];
}

/** An allowed host as hostName() reports it: IPv6 literals (`fd00::1`, a bind address) in brackets. */
function hostKey(name: string): string {
  const n = name.trim().toLowerCase();
  return n.split(':').length > 2 && !n.startsWith('[') ? `[${n}]` : n;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function rpcError(res: ServerResponse, status: number, message: string, headers?: Record<string, string>): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code: -32000, message }, id: null }, headers);
}

/**
 * The named workspace an initialize request asks for: the Sandbox-Workspace header, or ?workspace= for
 * clients that can only be given a URL. Undefined: the server default (SANDBOX_WORKSPACE) or none.
 */
function requestedWorkspace(req: IncomingMessage): string | undefined | SandboxError {
  const header = req.headers['sandbox-workspace'];
  const fromHeader = (Array.isArray(header) ? header[0] : header) || undefined;
  const fromQuery = new URL(req.url ?? '/', 'http://localhost').searchParams.get('workspace') || undefined;
  if (fromHeader && fromQuery && fromHeader !== fromQuery) {
    return new SandboxError('INVALID_ARGUMENT', `two workspace names: ${JSON.stringify(fromHeader.slice(0, 80))} (Sandbox-Workspace header) and ${JSON.stringify(fromQuery.slice(0, 80))} (?workspace=)`, { hint: 'name the workspace in one place only' });
  }
  const name = fromHeader ?? fromQuery;
  if (name === undefined) return undefined;
  if (WORKSPACE_NAME.test(name)) return name;
  return new SandboxError('INVALID_ARGUMENT', `workspace name ${JSON.stringify(name.slice(0, 80))} (Sandbox-Workspace header or ?workspace=) is not valid`, { hint: `use ${WORKSPACE_NAME_RULE}` });
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return 'too-large';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Streamable HTTP at /mcp, one MCP session per Mcp-Session-Id, guarded by Host/Origin checks and a token. */
export async function serveHttp(o: ServerDeps & {
  log: Logger; sessions: SessionManager; tools: ToolDefinition[];
  /** Claim requests by Host (previews, sites) before the Origin check and without the token. */
  hostRoutes?: RouteHandler[];
  /** Served by path before /mcp; `authenticated` routes need the bearer token like /mcp does. */
  routes?: { path: string; authenticated: boolean; handle: RouteHandler }[];
  upgrades?: UpgradeHandler[];
}): Promise<HttpServerHandle> {
  const { config, log, sessions } = o;
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const lastSeen = new Map<string, number>();
  // POSTs still being answered, per session: a tool call that runs longer than the TTL is a session
  // in use, not a vanished client, and must get its answer (GET streams are only listening).
  const openCalls = new Map<string, number>();
  // Clients that vanish without DELETE would otherwise keep their session objects forever.
  const sweeper = setInterval(() => {
    const cutoff = Date.now() - config.sessionTtlS * 1000;
    for (const [id, seen] of lastSeen) {
      if (seen < cutoff && !openCalls.get(id)) {
        log.info({ sessionId: id }, 'session expired after SANDBOX_SESSION_TTL without requests');
        void transports.get(id)?.close();
      }
    }
  }, Math.min(60_000, config.sessionTtlS * 250));
  sweeper.unref();
  const publicHost = config.publicUrl ? new URL(config.publicUrl).hostname : undefined;
  const allowedHosts = new Set([...LOOPBACK_NAMES, hostKey(config.host), ...config.allowedHosts.map(hostKey), ...(publicHost ? [publicHost] : [])]);
  // Browsers send a bare lowercase origin; a configured "https://App.example.com/" must match it too.
  const allowedOrigins = new Set(config.allowedOrigins.map((o) => { try { return new URL(o).origin; } catch { return o; } }));
  const token = config.authToken ? Buffer.from(config.authToken) : undefined;

  const hostAllowed = (req: IncomingMessage) => {
    const name = hostName(req.headers.host);
    return !!name && (allowedHosts.has(name) || name.endsWith('.localhost') || (!!publicHost && name.endsWith(`.${publicHost}`)));
  };
  const originAllowed = (req: IncomingMessage) => {
    const origin = req.headers.origin;
    if (!origin) return true;
    if (allowedOrigins.has(origin) || origin === config.publicUrl) return true;
    try {
      const u = new URL(origin);
      return LOOPBACK_NAMES.includes(u.hostname.toLowerCase()) || u.hostname === '[::1]';
    } catch {
      return false;
    }
  };
  const authorized = (req: IncomingMessage) => {
    if (!token) return true;
    // The scheme name is case-insensitive (RFC 9110 11.1): "bearer <token>" is as good as "Bearer <token>".
    const got = Buffer.from(/^bearer +(.*)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
    return got.length === token.length && timingSafeEqual(got, token);
  };

  /**
   * At SANDBOX_MAX_SESSIONS, a new client displaces the longest-idle session that has no sandbox and no
   * call running: it loses nothing but its handshake (clients that only ever initialize would otherwise
   * grow memory until the TTL). False when every session holds a sandbox or is busy.
   */
  function makeRoom(): boolean {
    let victim: string | undefined;
    for (const [id, seen] of lastSeen) {
      if (openCalls.get(id) || sessions.holdsSandbox(id)) continue;
      if (victim === undefined || seen < lastSeen.get(victim)!) victim = id;
    }
    if (victim === undefined) return false;
    log.info({ sessionId: victim, sessions: transports.size }, 'session displaced at SANDBOX_MAX_SESSIONS (it had no sandbox)');
    const t = transports.get(victim);
    transports.delete(victim);
    lastSeen.delete(victim);
    void t?.close();
    return true;
  }

  async function handleMcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionId = req.headers['mcp-session-id'];
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, config.maxBodyBytes);
      if (raw === 'too-large') return rpcError(res, 413, `request body larger than ${config.maxBodyBytes} bytes; raise SANDBOX_MAX_BODY or send less`, { connection: 'close' });
      try { body = JSON.parse(raw.toString('utf8')); } catch { return sendJson(res, 400, { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error: body is not JSON' }, id: null }); }
    }
    if (typeof sessionId === 'string') {
      const transport = transports.get(sessionId);
      if (!transport) return rpcError(res, 404, 'unknown or expired session: start a new one with initialize');
      lastSeen.set(sessionId, Date.now());
      if (req.method === 'POST') {
        openCalls.set(sessionId, (openCalls.get(sessionId) ?? 0) + 1);
        res.once('close', () => {
          const left = (openCalls.get(sessionId) ?? 1) - 1;
          if (left > 0) openCalls.set(sessionId, left); else openCalls.delete(sessionId);
          if (lastSeen.has(sessionId)) lastSeen.set(sessionId, Date.now());
        });
      }
      return transport.handleRequest(req, res, body);
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      return rpcError(res, 400, 'no Mcp-Session-Id header: send initialize first to start a session');
    }
    const workspace = requestedWorkspace(req);
    if (workspace instanceof SandboxError) return rpcError(res, 400, `${workspace.message}; ${workspace.hint}`);
    if (transports.size >= config.maxSessions && !makeRoom()) {
      return rpcError(res, 503, `this server holds ${transports.size} sessions, its limit (SANDBOX_MAX_SESSIONS), and each has a sandbox or a call running: retry later, end unused sessions with DELETE, or raise SANDBOX_MAX_SESSIONS`, { 'retry-after': '30' });
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        transports.set(id, transport);
        lastSeen.set(id, Date.now());
        log.info({ sessionId: id, sessions: transports.size }, 'session started');
      },
      // Awaited before the transport closes its streams: calls still running get their answer first.
      onsessionclosed: async (id) => {
        log.info({ sessionId: id }, 'session deleted by client');
        await sessions.close(id, 1000);
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (!id) return;
      transports.delete(id);
      lastSeen.delete(id);
      openCalls.delete(id);
      void sessions.close(id);
    };
    const server = buildServer(o.tools, () => sessions.open(transport.sessionId!, { workspace }), o);
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  let accepting = true;
  const server = http.createServer(httpTimeouts(config), (req, res) => {
    void (async () => {
      if (!accepting) return rpcError(res, 503, 'the server is shutting down: retry against a new instance', { connection: 'close', 'retry-after': '5' });
      if (!hostAllowed(req)) return rpcError(res, 403, `Host header ${JSON.stringify(req.headers.host ?? '')} is not allowed; add it with SANDBOX_ALLOWED_HOSTS`);
      // Previews and sites claim requests by Host before the Origin check, which guards the MCP
      // endpoint: a preview's own pages legitimately send their preview origin.
      for (const route of o.hostRoutes ?? []) if (await route(req, res)) return;
      if (!originAllowed(req)) return rpcError(res, 403, `Origin ${req.headers.origin} is not allowed; add it with SANDBOX_ALLOWED_ORIGINS`);
      const url = new URL(req.url ?? '/', 'http://localhost');
      const route = o.routes?.find((r) => r.path === url.pathname);
      if (route) {
        if (route.authenticated && !authorized(req)) return rpcError(res, 401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
        if (await route.handle(req, res)) return;
      }
      if (url.pathname === '/healthz') {
        // Liveness is answering at all; readiness is whether the provider can create sandboxes now.
        const health = (await sessions.provider.health?.().catch((e: Error) => ({ ready: false, detail: e.message }))) ?? { ready: true };
        return sendJson(res, health.ready ? 200 : 503, { status: health.ready ? 'ok' : 'unready', ...health, provider: config.provider, sessions: sessions.size, sandboxes: sessions.activeSandboxes, workspaces: sessions.workspaces.list().filter((w) => w.sandboxId).length });
      }
      if (url.pathname !== '/mcp') return sendJson(res, 404, { error: 'not found: the MCP endpoint is /mcp' });
      if (!authorized(req)) return rpcError(res, 401, 'missing or wrong bearer token: send Authorization: Bearer <SANDBOX_MCP_AUTH_TOKEN>', { 'www-authenticate': 'Bearer' });
      await handleMcp(req, res);
    })().catch((err) => {
      log.error({ err }, 'HTTP request failed');
      if (!res.headersSent) rpcError(res, 500, 'internal error');
      else res.end();
    });
  });
  limitConnectionsPerClient(server, config.maxConnectionsPerClient, log);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      socket.on('error', () => socket.destroy());
      if (hostAllowed(req)) for (const handler of o.upgrades ?? []) if (await handler(req, socket, head)) return;
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
    })().catch((err) => { log.error({ err }, 'upgrade failed'); socket.destroy(); });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      clearInterval(sweeper);
      reject(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'].includes(e.code ?? '')
        ? new SandboxError('UNAVAILABLE', `cannot listen on ${config.host} port ${config.port} (${e.code})`, { hint: 'pick another port with --port or SANDBOX_MCP_PORT (0 takes any free one), stop what holds it, or bind an address of this machine with --host', cause: e })
        : e);
    });
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${shownHost}:${port}/mcp`;
  return {
    url,
    port,
    stopAccepting: () => {
      accepting = false;
      server.close(); // stops listening; open connections are ended by close() below
    },
    close: async () => {
      accepting = false;
      clearInterval(sweeper);
      await Promise.all([...transports.values()].map((t) => t.close().catch(() => undefined)));
      await new Promise<void>((resolve) => {
        if (!server.listening) resolve(); else server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
