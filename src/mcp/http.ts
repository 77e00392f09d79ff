import { randomUUID, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../sessions/manager.js';
import { buildServer } from './server.js';
import type { ToolDefinition } from './tool.js';

export interface HttpServerHandle {
  url: string;
  port: number;
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

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function rpcError(res: ServerResponse, status: number, message: string, headers?: Record<string, string>): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code: -32000, message }, id: null }, headers);
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
export async function serveHttp(o: {
  config: Config; log: Logger; sessions: SessionManager; tools: ToolDefinition[]; routes?: RouteHandler[]; upgrades?: UpgradeHandler[];
}): Promise<HttpServerHandle> {
  const { config, log, sessions } = o;
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const allowedHosts = new Set([...LOOPBACK_NAMES, config.host.toLowerCase(), ...config.allowedHosts.map((h) => h.toLowerCase())]);
  const token = config.authToken ? Buffer.from(`Bearer ${config.authToken}`) : undefined;

  const hostAllowed = (req: IncomingMessage) => {
    const name = hostName(req.headers.host);
    return !!name && (allowedHosts.has(name) || name.endsWith('.localhost'));
  };
  const originAllowed = (req: IncomingMessage) => {
    const origin = req.headers.origin;
    if (!origin) return true;
    if (config.allowedOrigins.includes(origin)) return true;
    try {
      const u = new URL(origin);
      return LOOPBACK_NAMES.includes(u.hostname.toLowerCase()) || u.hostname === '[::1]';
    } catch {
      return false;
    }
  };
  const authorized = (req: IncomingMessage) => {
    if (!token) return true;
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === token.length && timingSafeEqual(got, token);
  };

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
      return transport.handleRequest(req, res, body);
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      return rpcError(res, 400, 'no Mcp-Session-Id header: send initialize first to start a session');
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        transports.set(id, transport);
        log.info({ sessionId: id, sessions: transports.size }, 'session started');
      },
      onsessionclosed: (id) => { log.info({ sessionId: id }, 'session deleted by client'); },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (!id) return;
      transports.delete(id);
      void sessions.close(id);
    };
    const server = buildServer(o.tools, () => sessions.open(transport.sessionId!), config);
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      if (!hostAllowed(req)) return rpcError(res, 403, `Host header ${JSON.stringify(req.headers.host ?? '')} is not allowed; add it with SANDBOX_ALLOWED_HOSTS`);
      // Routes (previews, sites) claim requests by Host before the Origin check, which guards the
      // MCP endpoint: a preview's own pages legitimately send their preview origin.
      for (const route of o.routes ?? []) if (await route(req, res)) return;
      if (!originAllowed(req)) return rpcError(res, 403, `Origin ${req.headers.origin} is not allowed; add it with SANDBOX_ALLOWED_ORIGINS`);
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok', provider: config.provider, sessions: sessions.size, sandboxes: sessions.activeSandboxes });
      if (url.pathname !== '/mcp') return sendJson(res, 404, { error: 'not found: the MCP endpoint is /mcp' });
      if (!authorized(req)) return rpcError(res, 401, 'missing or wrong bearer token: send Authorization: Bearer <SANDBOX_MCP_AUTH_TOKEN>', { 'www-authenticate': 'Bearer' });
      await handleMcp(req, res);
    })().catch((err) => {
      log.error({ err }, 'HTTP request failed');
      if (!res.headersSent) rpcError(res, 500, 'internal error');
      else res.end();
    });
  });
  server.requestTimeout = 0; // long tool calls stream over SSE
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      socket.on('error', () => socket.destroy());
      if (hostAllowed(req)) for (const handler of o.upgrades ?? []) if (await handler(req, socket, head)) return;
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
    })().catch((err) => { log.error({ err }, 'upgrade failed'); socket.destroy(); });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${shownHost}:${port}/mcp`;
  return {
    url,
    port,
    close: async () => {
      await Promise.all([...transports.values()].map((t) => t.close().catch(() => undefined)));
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    },
  };
}
