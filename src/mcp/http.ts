import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxError } from '../errors.js';
import { httpTimeouts, limitConnectionsPerClient } from '../http-limits.js';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../sessions/manager.js';
import { requestGuards } from './guards.js';
import { rpcError } from './http-io.js';
import { routeRequest, routeUpgrade, type RouteOptions, type UpgradeHandler } from './http-routes.js';
import { LegacySessions } from './legacy-sessions.js';
import { isLegacy, modernEndpoint } from './modern.js';
import { buildServer, type ServerDeps } from './server.js';
import type { ToolDefinition } from './tool.js';

export type { MountedRoute, Refusal, RouteHandler, UpgradeHandler } from './http-routes.js';

export interface HttpServerHandle {
  url: string;
  port: number;
  /** Shutdown, first step: no new connections or requests (503); calls in flight keep their streams. */
  stopAccepting(): void;
  close(): Promise<void>;
}

/** Streamable HTTP at /mcp (MCP 2026-07-28 and 2025-11-25) beside the mounted routes, guarded by Host/Origin checks and a token. */
export async function serveHttp(
  options: ServerDeps &
    Pick<RouteOptions, 'hostRoutes' | 'routes'> & {
      log: Logger;
      sessions: SessionManager;
      tools: ToolDefinition[];
      upgrades?: UpgradeHandler[];
    },
): Promise<HttpServerHandle> {
  const { config, log, sessions } = options;
  const guards = requestGuards(config);
  const legacy = new LegacySessions(config, log, sessions, (sessionId, workspace, headers) =>
    buildServer(
      options.tools,
      sessions.router({
        connection: () => sessions.open(sessionId(), { workspace }),
        principal: guards.principal(headers),
      }),
      options,
    ),
  );
  const modern = modernEndpoint({ ...options, guards });
  const route = routeRequest({
    config,
    sessions,
    guards,
    hostRoutes: options.hostRoutes,
    routes: options.routes,
    // Both revisions on one endpoint: 2025-era requests keep their sessions (and per-session sandboxes).
    mcp: (req, res, body) => (isLegacy(req, body) ? legacy.handle(req, res, body) : modern.handle(req, res, body)),
  });

  let accepting = true;
  const server = http.createServer(httpTimeouts(config), (req, res) => {
    route(req, res, accepting).catch((err) => {
      log.error({ err }, 'HTTP request failed');
      if (!res.headersSent) rpcError(res, 500, 'internal error');
      else res.end();
    });
  });
  limitConnectionsPerClient(server, config.maxConnectionsPerClient, log);
  const upgrade = routeUpgrade(guards, options.upgrades ?? []);
  server.on('upgrade', (req, socket, head) => {
    upgrade(req, socket, head).catch((err) => {
      log.error({ err }, 'upgrade failed');
      socket.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (errnoException: NodeJS.ErrnoException) => {
      legacy.stopSweeper();
      reject(
        ['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'].includes(errnoException.code ?? '')
          ? new SandboxError(
              'UNAVAILABLE',
              `cannot listen on ${config.host} port ${config.port} (${errnoException.code})`,
              {
                hint: 'pick another port with --port or SANDBOX_MCP_PORT (0 takes any free one), stop what holds it, or bind an address of this machine with --host',
                cause: errnoException,
              },
            )
          : errnoException,
      );
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
      await Promise.all([legacy.closeAll(), modern.close()]);
      await new Promise<void>((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
