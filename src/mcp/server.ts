import { z } from 'zod';
import { McpServer, type ServerContext, type StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { CallRouter } from '../sessions/manager.js';
import type { Telemetry } from '../telemetry.js';
import { keepV1UnknownToolResult } from './legacy-compat.js';
import { callHandleTool, callSandboxTool, SERVER_NAME, type CallDeps } from './tool-call.js';
import type { ToolDefinition } from './tool.js';

export { SERVER_NAME };
export const SERVER_VERSION = '0.1.0';

const INSTRUCTIONS = `This server gives you a private Linux sandbox: a shell, files and (where enabled) a browser, dev servers and deploys.
The sandbox starts at your first call and keeps its files and processes between calls; the workdir is /workspace.
Run short commands with shell_exec; start servers and long jobs with shell_start, then follow them with shell_read.
Network access from the sandbox may be off (sandbox_info tells). Idle sandboxes are deleted after a while: keep results you need in files you read back, not in memory.
If a call says it reaches no sandbox, call sandbox_create once and pass the sandbox handle it returns to every later call.`;

/** What every McpServer of this process shares, whichever connection or request it serves. */
export interface ServerDeps {
  config: Config;
  telemetry: Telemetry;
  log: Logger;
}

/** The one sentence that teaches a model the handle, on every tool that works in a sandbox. */
const HANDLE_ARG = z
  .string()
  .min(1)
  .max(512)
  .describe("Sandbox handle returned by sandbox_create; omit it to use this session's own sandbox")
  .optional();

/**
 * Unknown argument names are refused, not dropped: `timeout` for `timeout_s` would otherwise run with
 * the default and look like it worked. The message lists the names the tool takes.
 */
function strictInput(name: string, own: z.ZodRawShape, withHandle: boolean): z.ZodObject {
  const known = Object.keys(own);
  const takes = `${name} takes ${known.length ? known.join(', ') : 'no arguments'}${withHandle ? ' (and the optional sandbox handle)' : ''}`;
  return z.strictObject(withHandle ? { ...own, sandbox: HANDLE_ARG } : own, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `unknown argument${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}: ${takes}`
        : undefined,
  });
}

/**
 * A zod schema whose JSON Schema is converted once per process. The SDK converts per McpServer (for
 * tools/list, for a call's structured result, for Mcp-Param checks), and a stateless request has an
 * McpServer of its own: converting on every call was a quarter of a millisecond of it.
 */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

type ObjectSchema = StandardSchemaWithJSON<Record<string, unknown>, Record<string, unknown>>;
function convertedOnce(schema: z.ZodObject): ObjectSchema {
  const std = schema['~standard'];
  const memo = new Map<string, Record<string, unknown>>();
  const once = (io: 'input' | 'output') => (options: Parameters<typeof std.jsonSchema.input>[0]) => {
    const key = `${io} ${options.target}`;
    let json = memo.get(key);
    // Frozen: shared by every McpServer, so nothing may change it (the SDK copies what it adjusts).
    if (!json) memo.set(key, (json = deepFreeze(std.jsonSchema[io](options))));
    return json;
  };
  return { '~standard': { ...std, jsonSchema: { input: once('input'), output: once('output') } } } as ObjectSchema;
}

/** Each tool's schemas, built once per process (stateless requests get an McpServer each). */
const schemas = new WeakMap<ToolDefinition, { input: ObjectSchema; output?: ObjectSchema }>();
function schemasOf(tool: ToolDefinition): { input: ObjectSchema; output?: ObjectSchema } {
  let s = schemas.get(tool);
  if (!s) {
    // The handle tools take handles as their own arguments; every other tool may name its sandbox.
    const input = strictInput(tool.name, tool.inputSchema, tool.kind !== 'handles');
    s = { input: convertedOnce(input), output: tool.outputSchema && convertedOnce(z.object(tool.outputSchema)) };
    schemas.set(tool, s);
  }
  return s;
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
      instructions: INSTRUCTIONS,
      cacheHints: { 'tools/list': LIST_CACHE, 'server/discover': LIST_CACHE },
    },
  );
  keepV1UnknownToolResult(server, new Set(tools.map((t) => t.name)));
  const call: CallDeps = { config, telemetry, log: deps.log, router, server, hostPaths };
  for (const tool of tools) {
    const { input, output } = schemasOf(tool);
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
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
