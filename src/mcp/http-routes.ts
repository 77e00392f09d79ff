import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config } from '../config.js';
import type { SessionManager } from '../sessions/manager.js';
import type { RequestGuards } from './guards.js';
import { readBody, rpcError, sendJson } from './http-io.js';

/** Extra routes (health, metrics, previews) that other layers mount on the same listener. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
/** Protocol upgrades (WebSockets to previews); returns true when it took the socket. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean | Promise<boolean>;
/** Serves one authorized request to /mcp; `body` is the parsed JSON of a POST, else undefined. */
export type McpEndpoint = (req: IncomingMessage, res: ServerResponse, body: unknown) => Promise<void>;

export interface RouteOptions {
  config: Config;
  sessions: SessionManager;
  guards: RequestGuards;
  mcp: McpEndpoint;
  /** Claim requests by Host (previews, sites) before the Origin check and without the token. */
  hostRoutes?: RouteHandler[];
  /** Served by path before /mcp; `authenticated` routes need the bearer token like /mcp does. */
  routes?: { path: string; authenticated: boolean; handle: RouteHandler }[];
}

/**
 * The order every request goes through: Host (DNS rebinding) for everything; previews and sites by
 * Host before the Origin check, which guards the MCP endpoint (a preview's own pages legitimately send
 * their preview origin); then the mounted routes, /healthz, and the token-guarded /mcp.
 */
export function routeRequest(
  o: RouteOptions,
): (req: IncomingMessage, res: ServerResponse, accepting: boolean) => Promise<void> {
  const { config, sessions, guards } = o;
  return async (req, res, accepting) => {
    if (!accepting)
      return rpcError(res, 503, 'the server is shutting down: retry against a new instance', {
        headers: { connection: 'close', 'retry-after': '5' },
      });
    if (!guards.hostAllowed(req.headers))
      return rpcError(
        res,
        403,
        `Host header ${JSON.stringify(req.headers.host ?? '')} is not allowed; add it with SANDBOX_ALLOWED_HOSTS`,
      );
    for (const route of o.hostRoutes ?? []) if (await route(req, res)) return;
    if (!guards.originAllowed(req.headers))
      return rpcError(res, 403, `Origin ${req.headers.origin} is not allowed; add it with SANDBOX_ALLOWED_ORIGINS`);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = o.routes?.find((r) => r.path === url.pathname);
    if (route) {
      if (route.authenticated && !guards.authorized(req.headers))
        return rpcError(res, 401, 'missing or wrong bearer token', { headers: { 'www-authenticate': 'Bearer' } });
      if (await route.handle(req, res)) return;
    }
    if (url.pathname === '/healthz') {
      // Liveness is answering at all; readiness is whether the provider can create sandboxes now.
      const health = (await sessions.provider
        .health?.()
        .catch((e: Error) => ({ ready: false, detail: e.message }))) ?? { ready: true };
      return sendJson(res, health.ready ? 200 : 503, {
        status: health.ready ? 'ok' : 'unready',
        ...health,
        provider: config.provider,
        sessions: sessions.size,
        sandboxes: sessions.activeSandboxes,
        workspaces: sessions.workspaces.list().filter((w) => w.sandboxId).length,
      });
    }
    if (url.pathname !== '/mcp') return sendJson(res, 404, { error: 'not found: the MCP endpoint is /mcp' });
    if (!guards.authorized(req.headers))
      return rpcError(res, 401, 'missing or wrong bearer token: send Authorization: Bearer <SANDBOX_MCP_AUTH_TOKEN>', {
        headers: { 'www-authenticate': 'Bearer' },
      });
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, config.maxBodyBytes);
      if (raw === 'too-large')
        return rpcError(
          res,
          413,
          `request body larger than ${config.maxBodyBytes} bytes; raise SANDBOX_MAX_BODY or send less`,
          { headers: { connection: 'close' } },
        );
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return rpcError(res, 400, 'Parse error: body is not JSON', { code: -32700 });
      }
    }
    await o.mcp(req, res, body);
  };
}

/** Upgrades (preview WebSockets) pass the Host check too; nothing else on this server upgrades. */
export function routeUpgrade(
  guards: RequestGuards,
  upgrades: UpgradeHandler[],
): (req: IncomingMessage, socket: Duplex, head: Buffer) => Promise<void> {
  return async (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    if (guards.hostAllowed(req.headers)) for (const handler of upgrades) if (await handler(req, socket, head)) return;
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
  };
}
