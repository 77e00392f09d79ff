#!/usr/bin/env node
import { ConfigError, helpText, loadConfig, parseArgv, type Config } from './config.js';
import { isSandboxError } from './errors.js';
import { siteStore } from './deploy/index.js';
import { createLogger, type Logger } from './logger.js';
import { serveHttp } from './mcp/http.js';
import { serveStdio } from './mcp/stdio.js';
import { webHost } from './preview/web-host.js';
import { createProvider } from './providers/index.js';
import { SessionManager } from './sessions/manager.js';
import { allTools } from './tools/index.js';

/** Ends the process on SIGINT/SIGTERM/stdin close: sandboxes first, with a hard-exit backstop. */
function installShutdown(log: Logger, stop: () => Promise<void>): (reason: string) => void {
  let stopping = false;
  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'shutting down');
    setTimeout(() => { log.error('shutdown took over 10 s: exiting anyway'); process.exit(1); }, 10_000).unref();
    stop().then(() => process.exit(0), (err) => { log.error({ err }, 'shutdown failed'); process.exit(1); });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) { log.warn({ signal: sig }, 'second signal: exiting now'); process.exit(130); }
      shutdown(sig);
    });
  }
  process.on('SIGHUP', () => shutdown('SIGHUP'));
  return shutdown;
}

function clientConfig(config: Config, url: string): string {
  const headers = config.authToken ? { Authorization: 'Bearer <SANDBOX_MCP_AUTH_TOKEN>' } : undefined;
  return JSON.stringify({ mcpServers: { sandbox: { type: 'http', url, ...(headers ? { headers } : {}) } } }, null, 2);
}

async function serve(config: Config, log: Logger): Promise<void> {
  log.info({ provider: config.provider, reason: config.providerReason, stateDir: config.stateDir }, 'provider chosen');
  const provider = await createProvider(config, log);
  const reaped = await provider.reapOrphans();
  if (reaped.length) log.info({ count: reaped.length, ids: reaped }, 'reaped sandboxes left by a server that died');
  const sessions = new SessionManager(provider, config, log);
  // Previews reach only sandboxes held by this server's sessions; sites are read from the state dir.
  webHost.configure({ config, log, lookup: (id) => sessions.findSandbox(id), sites: siteStore(config.stateDir).serve });
  provider.usePreviewUrls?.((id, port) => webHost.previewUrl(id, port));
  let closeHttp: (() => Promise<void>) | undefined;
  const shutdown = installShutdown(log, async () => {
    await closeHttp?.();
    await webHost.close();
    await sessions.closeAll();
    await provider.shutdown();
  });

  if (config.transport === 'stdio') {
    await serveStdio({ config, log, sessions, tools: allTools, onEnd: shutdown });
  } else {
    const http = await serveHttp({ config, log, sessions, tools: allTools, routes: [webHost.handleRequest], upgrades: [webHost.handleUpgrade] });
    webHost.attachMain(http.port);
    closeHttp = http.close;
    log.info({ url: http.url, port: http.port, clientConfig: JSON.parse(clientConfig(config, http.url)) }, 'listening');
    if (process.stderr.isTTY) {
      process.stderr.write(`\nsandbox-mcp is listening on ${http.url}\nPaste into your MCP client config:\n${clientConfig(config, http.url)}\n\n`);
    }
  }
  provider.warmUp?.();
}

async function main(): Promise<void> {
  let parsed;
  let config: Config;
  try {
    parsed = parseArgv(process.argv.slice(2));
    if (parsed.help) { process.stderr.write(`${helpText()}\n`); return; }
    config = loadConfig(parsed.flags, process.env);
  } catch (e) {
    if (e instanceof ConfigError) { process.stderr.write(`sandbox-mcp: ${e.message}\n`); process.exit(2); }
    throw e;
  }
  const log = createLogger(config.logLevel);
  try {
    if (parsed.command === 'serve') await serve(config, log);
    else throw new ConfigError(`"${parsed.command}" is not available in this version; run sandbox-mcp --help`);
  } catch (e) {
    const msg = isSandboxError(e) ? e.describe() : (e as Error).message;
    log.fatal({ err: e }, `cannot start: ${msg}`);
    process.stderr.write(`sandbox-mcp: cannot start: ${msg}\n`);
    process.exit(1);
  }
}

void main();
