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
/** Answers a request the guards turned away (403 Host/Origin, 401 token, 503 shutting down). */
export type Refusal = (res: ServerResponse, status: number, message: string, headers: Record<string, string>) => void;

/** A route mounted beside /mcp. */
export interface MountedRoute {
  /** The exact path, or with `prefix`, also every path below it (`/api` serves `/api/...`). */
  path: string;
  prefix?: boolean;
  /** Needs the bearer token like /mcp does. */
  authenticated: boolean;
  handle: RouteHandler;
  /** OPTIONS (CORS preflight), answered before the token check: browsers send preflights without credentials. */
  preflight?: RouteHandler;
  /** How this route's refusals look (default: a JSON-RPC error, as /mcp answers them). */
  refuse?: Refusal;
}

export interface RouteOptions {
  config: Config;
  sessions: SessionManager;
  guards: RequestGuards;
  mcp: McpEndpoint;
  /** Claim requests by Host (previews, sites) before the Origin check and without the token. */
  hostRoutes?: RouteHandler[];
  /** Served by path before /mcp. */
  routes?: MountedRoute[];
}

const rpcRefusal: Refusal = (res, status, message, headers) => rpcError(res, status, message, { headers });

function findRoute(routes: MountedRoute[] | undefined, pathname: string): MountedRoute | undefined {
  return routes?.find((r) => r.path === pathname || (r.prefix && pathname.startsWith(`${r.path}/`)));
}

/**
 * The order every request goes through: Host (DNS rebinding) for everything; previews and sites by
 * Host before the Origin check, which guards the MCP endpoint (a preview's own pages legitimately send
 * their preview origin); then the mounted routes, /healthz, and the token-guarded /mcp.
 */
export function routeRequest(
  routeOptions: RouteOptions,
): (req: IncomingMessage, res: ServerResponse, accepting: boolean) => Promise<void> {
  const { config, sessions, guards } = routeOptions;
  return async (req, res, accepting) => {
    // A malformed request target ("http://[bad/") is the host routes' to answer (a site's 400) or ours below.
    const url = URL.parse(req.url ?? '/', 'http://localhost');
    const route = url ? findRoute(routeOptions.routes, url.pathname) : undefined;
    const refuse = route?.refuse ?? rpcRefusal;
    if (!accepting)
      return refuse(res, 503, 'the server is shutting down: retry against a new instance', {
        connection: 'close',
        'retry-after': '5',
      });
    if (!guards.hostAllowed(req.headers))
      return refuse(
        res,
        403,
        `Host header ${JSON.stringify(req.headers.host ?? '')} is not allowed; add it with SANDBOX_ALLOWED_HOSTS`,
        {},
      );
    for (const hostRoute of routeOptions.hostRoutes ?? []) if (await hostRoute(req, res)) return;
    if (!guards.originAllowed(req.headers))
      return refuse(res, 403, `Origin ${req.headers.origin} is not allowed; add it with SANDBOX_ALLOWED_ORIGINS`, {});
    if (route) {
      if (route.preflight && req.method === 'OPTIONS' && (await route.preflight(req, res))) return;
      if (route.authenticated && !guards.authorized(req.headers))
        return refuse(res, 401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
      if (await route.handle(req, res)) return;
    }
    if (!url) return sendJson(res, 400, { error: 'malformed request target: send a path such as /mcp' });
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
    await routeOptions.mcp(req, res, body);
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
