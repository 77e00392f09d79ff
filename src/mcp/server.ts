import { McpServer, type ServerContext } from '@modelcontextprotocol/server';
import type { Config } from '../config.js';
import type { LocalSiteStore } from '../deploy/store.js';
import type { Logger } from '../logger.js';
import type { CallRouter } from '../sessions/manager.js';
import type { Telemetry } from '../telemetry.js';
import { keepV1UnknownToolResult } from './legacy-compat.js';
import { callHandleTool, callSandboxTool, SERVER_NAME, type CallDeps } from './tool-call.js';
import type { ToolDefinition } from './tool.js';
import type { ToolNamer } from './tool-names.js';
import { schemasOf } from './tool-schema.js';

export { SERVER_NAME };
export const SERVER_VERSION = '0.1.0';

const INSTRUCTIONS = (names: ToolNamer) =>
  names.render(`This server gives you a private Linux sandbox: a shell, files and (where enabled) a browser, dev servers and deploys.
The sandbox starts at your first call and keeps its files and processes between calls; the workdir is /workspace.
Run short commands with shell_exec; start servers and long jobs with shell_start, then follow them with shell_read.
Network access from the sandbox may be off (sandbox_info tells). Idle sandboxes are deleted after a while: keep results you need in files you read back, not in memory.
If a call says it reaches no sandbox, call sandbox_create once and pass the sandbox handle it returns to every later call.`);

/** What every McpServer of this process shares, whichever connection or request it serves. */
export interface ServerDeps {
  config: Config;
  telemetry: Telemetry;
  log: Logger;
  /** The names tools are served under; it knows every tool, served or not, so hints name them right. */
  names: ToolNamer;
  /** The site store the deploy tools publish to. */
  sites: LocalSiteStore;
}

/**
 * The tool list changes only with the server's version and configuration, and is the same for every caller: 2026-07-28 clients may keep it, and share it, for a while.
 */
const LIST_CACHE = { ttlMs: 5 * 60_000, cacheScope: 'public' } as const;

/**
 * What the server keeps under the state dir (other sandboxes' folders, the site store) is no session's
 * business: error texts and log messages never name it. Unisolated, sandbox paths are host paths there.
 */
export function redactedHostPaths(config: Pick<Config, 'provider' | 'isolation' | 'stateDir'>): string[] {
  return config.provider === 'local' && config.isolation === 'none' ? [] : [config.stateDir];
}

/**
 * An McpServer with every tool. `router` finds the session of each call: the connection's own (stdio,
 * a 2025-era HTTP session), or what a stateless request names.
 */
export function buildServer(tools: ToolDefinition[], router: CallRouter, deps: ServerDeps): McpServer {
  const { config, telemetry } = deps;
  const hostPaths = redactedHostPaths(config);
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    // The tools capability comes with the first registerTool, after keepV1UnknownToolResult is in place.
    {
      capabilities: { logging: {} },
      instructions: INSTRUCTIONS(deps.names),
      cacheHints: { 'tools/list': LIST_CACHE, 'server/discover': LIST_CACHE },
    },
  );
  const { names } = deps;
  keepV1UnknownToolResult(server, new Set(tools.map((t) => names.name(t.name))));
  const call: CallDeps = { config, telemetry, log: deps.log, router, server, hostPaths, names, sites: deps.sites };
  for (const tool of tools) {
    const { input, output } = schemasOf(tool, names);
    server.registerTool(
      names.name(tool.name),
      {
        title: tool.title,
        description: names.render(tool.description),
        inputSchema: input,
        outputSchema: output,
        annotations: { title: tool.title, ...tool.annotations },
      },
      (args: Record<string, unknown>, extra: ServerContext) =>
        tool.kind === 'handles' ? callHandleTool(call, tool, args, extra) : callSandboxTool(call, tool, args, extra),
    );
  }
  // The list is fixed while the server runs: no client should wait for list_changed notifications.
  server.server.registerCapabilities({ tools: { listChanged: false } });
  return server;
}
