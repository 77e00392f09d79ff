import type { IncomingMessage, ServerResponse } from 'node:http';
import { enableLinearRegexFallback } from './agent/regex-fallback.js';
import type { Config } from './config.js';
import { LocalSiteStore } from './deploy/store.js';
import type { Logger } from './logger.js';
import { serveHttp, type HttpServerHandle } from './mcp/http.js';
import { serveStdio } from './mcp/stdio.js';
import { WebHost } from './preview/web-host.js';
import { createProvider } from './providers/index.js';
import { restApi } from './rest/api.js';
import { SessionManager } from './sessions/manager.js';
import { noTelemetry, type Telemetry } from './telemetry.js';
import { allTools, servedTools } from './tools/index.js';

const HARD_EXIT_MS = 10_000;

/**
 * Ends the process on SIGINT/SIGTERM/stdin close: stop accepting, let running calls finish within the
 * grace period, kill the sandboxes, exit; a hard exit after 10 s whatever happens; a second signal exits
 * at once. A stdin close is not a signal: clients close stdin and send SIGTERM a moment later (the MCP
 * SDK after 2 s), and that SIGTERM must not cut the clean-up short (a container would be left behind).
 */
function installShutdown(log: Logger, stop: (clientGone: boolean) => Promise<void>): (reason: string) => void {
  let stopping = false;
  let signals = 0;
  const shutdown = (reason: string, clientGone = false) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown took over 10 s: exiting anyway');
      process.exit(1);
    }, HARD_EXIT_MS).unref();
    stop(clientGone).then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (++signals > 1) {
        log.warn({ signal: sig }, 'second signal: exiting now');
        process.exit(130);
      }
      if (stopping) log.info({ signal: sig }, 'already shutting down');
      shutdown(sig);
    });
  }
  process.on('SIGHUP', () => shutdown('SIGHUP'));
  return (reason: string) => shutdown(reason, true);
}

function clientConfig(config: Config, url: string): string {
  const headers = config.authToken ? { Authorization: 'Bearer <SANDBOX_MCP_AUTH_TOKEN>' } : undefined;
  return JSON.stringify({ mcpServers: { sandbox: { type: 'http', url, ...(headers ? { headers } : {}) } } }, null, 2);
}

export async function serve(config: Config, log: Logger): Promise<void> {
  // The docker and cloud providers keep their processes' output here, where shell_read's `until`
  // regexes run: see agent/regex-fallback.ts.
  enableLinearRegexFallback();
  log.info({ provider: config.provider, reason: config.providerReason, stateDir: config.stateDir }, 'provider chosen');
  // Metrics are only served over HTTP, so a stdio server does not load prom-client at all.
  const metrics = config.transport === 'http' ? new (await import('./ops/metrics.js')).Metrics() : undefined;
  const telemetry: Telemetry = metrics ?? noTelemetry;
  const provider = await createProvider(config, log);
  if (config.network === 'egress' && provider.egressTotals) metrics?.watchEgress(() => provider.egressTotals?.());
  if (provider.poolStatus) metrics?.watchPool(() => provider.poolStatus?.());
  const reaped = await provider.reapOrphans();
  if (reaped.length) {
    telemetry.orphansReaped(reaped.length);
    log.info({ count: reaped.length, ids: reaped }, 'reaped sandboxes left by a server that died');
  }
  const sessions = new SessionManager(provider, config, log, telemetry);
  // Sites live in the state dir; their URLs are the web host's (asked only once both exist).
  const sites: LocalSiteStore = new LocalSiteStore(config.stateDir, (site) => webHost.siteUrl(site));
  // Previews reach sandboxes held by this server's sessions, and (docker) this deployment's handle
  // containers whichever replica made them.
  const webHost: WebHost = new WebHost({
    config,
    log,
    lookup: (id) => sessions.findSandbox(id) ?? provider.previewSandbox?.(id),
    sites: sites.serve,
  });
  provider.usePreviewUrls?.((id, port) => webHost.previewUrl(id, port));
  let http: HttpServerHandle | undefined;
  const shutdown = installShutdown(log, async (clientGone) => {
    http?.stopAccepting();
    await webHost.close();
    // Calls in flight may finish and answer over their open streams; a client that closed stdin
    // cannot receive results, so its calls do not get to run on.
    if (!clientGone) await sessions.drain(config.shutdownGraceS * 1000);
    // Sandboxes go before the HTTP streams: calls still running then fail with a result that says
    // why, sent over their open streams, instead of a stream that ends with no answer at all.
    await sessions.closeAll(1000);
    await http?.close();
    await provider.shutdown();
  });

  const served = servedTools(config);
  if (config.transport === 'stdio') {
    await serveStdio({ config, telemetry, log, sessions, sites, ...served, onEnd: shutdown });
  } else {
    // A listen failure ends the process: give back what the provider holds first (its server record).
    http = await serveHttp({
      config,
      telemetry,
      log,
      sessions,
      sites,
      ...served,
      hostRoutes: [webHost.handleRequest],
      upgrades: [webHost.handleUpgrade],
      routes: [
        // The REST API: the same handles, tools and token as /mcp.
        restApi({ config, log, telemetry, handles: sessions.handles, tools: allTools, sites }),
        ...(metrics
          ? [
              {
                path: '/metrics',
                authenticated: true,
                handle: async (_req: IncomingMessage, res: ServerResponse) => {
                  const { contentType, body } = await metrics.render();
                  res.writeHead(200, { 'content-type': contentType }).end(body);
                  return true;
                },
              },
            ]
          : []),
      ],
    }).catch(async (error: unknown) => {
      await provider.shutdown().catch(() => undefined);
      throw error;
    });
    webHost.attachMain(http.port);
    log.info({ url: http.url, port: http.port, clientConfig: JSON.parse(clientConfig(config, http.url)) }, 'listening');
    if (process.stderr.isTTY) {
      process.stderr.write(
        `\nsandbox-mcp is listening on ${http.url}\nPaste into your MCP client config:\n${clientConfig(config, http.url)}\n\n`,
      );
    }
  }
  provider.warmUp?.();
}
