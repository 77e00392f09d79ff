import { z } from 'zod';
import { McpServer, type ServerContext } from '@modelcontextprotocol/server';
import type { Config } from '../config.js';
import { clientMessage, isSandboxError, redactPaths, toSandboxError } from '../errors.js';
import { keepV1UnknownToolResult } from './legacy-compat.js';
import type { CallRouter } from '../sessions/manager.js';
import type { Session } from '../sessions/session.js';
import type { Telemetry } from '../telemetry.js';
import { fail, type ToolContext, type ToolDefinition, type ToolResult } from './tool.js';

export const SERVER_NAME = 'sandbox-mcp';
export const SERVER_VERSION = '0.1.0';

const INSTRUCTIONS = `This server gives you a private Linux sandbox: a shell, files and (where enabled) a browser, dev servers and deploys.
The sandbox starts at your first call and keeps its files and processes between calls; the workdir is /workspace.
Run short commands with shell_exec; start servers and long jobs with shell_start, then follow them with shell_read.
Network access from the sandbox may be off (sandbox_info tells). Idle sandboxes are deleted after a while: keep results you need in files you read back, not in memory.`;

/** What every McpServer of this process shares, whichever connection or request it serves. */
export interface ServerDeps {
  config: Config;
  telemetry: Telemetry;
}

/**
 * Unknown argument names are refused, not dropped: `timeout` for `timeout_s` would otherwise run with
 * the default and look like it worked. The message lists the names the tool takes.
 */
function strictInput(name: string, shape: z.ZodRawShape): z.ZodObject {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => iss.code === 'unrecognized_keys'
      ? `unknown argument${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}: ${name} takes ${known.length ? known.join(', ') : 'no arguments'}`
      : undefined,
  });
}

/**
 * A stateless (2026-07-28) HTTP request gets an McpServer of its own: the tools' schemas are built once
 * per process, not per request.
 */
const schemas = new WeakMap<ToolDefinition, { input: z.ZodObject; output?: z.ZodObject }>();
function schemasOf(tool: ToolDefinition): { input: z.ZodObject; output?: z.ZodObject } {
  let s = schemas.get(tool);
  if (!s) {
    s = { input: strictInput(tool.name, tool.inputSchema), output: tool.outputSchema && z.object(tool.outputSchema) };
    schemas.set(tool, s);
  }
  return s;
}

/**
 * The tool list changes only with the server's configuration (SANDBOX_TOOLS, SANDBOX_TOOL_PREFIX), and is
 * the same for every caller: 2026-07-28 clients may keep it, and share it, for a while.
 */
const LIST_CACHE = { ttlMs: 5 * 60_000, cacheScope: 'public' } as const;

/**
 * An McpServer with every tool. `router` finds the session of each call: the connection's own (stdio,
 * a 2025-era HTTP session), or what a stateless request names.
 */
export function buildServer(tools: ToolDefinition[], router: CallRouter, deps: ServerDeps): McpServer {
  const { config, telemetry } = deps;
  // What the server keeps under the state dir (other sandboxes' folders, the site store) is no session's
  // business: error texts and log messages never name it. Unisolated, sandbox paths are host paths there.
  const hostPaths = config.provider === 'local' && config.isolation === 'none' ? [] : [config.stateDir];
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    // The tools capability comes with the first registerTool, after keepV1UnknownToolResult is in place.
    { capabilities: { logging: {} }, instructions: INSTRUCTIONS, cacheHints: { 'tools/list': LIST_CACHE, 'server/discover': LIST_CACHE } },
  );
  keepV1UnknownToolResult(server, new Set(tools.map((t) => t.name)));
  for (const tool of tools) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: schemasOf(tool).input,
        outputSchema: schemasOf(tool).output,
        annotations: { title: tool.title, ...tool.annotations },
      },
      async (args: Record<string, unknown>, extra: ServerContext) => {
        let session: Session;
        try {
          session = router.session();
        } catch (err) {
          telemetry.toolCall(tool.name, 0, false);
          return fail(`${tool.name} failed: ${redactPaths(clientMessage(err), hostPaths)}`);
        }
        // Warnings and errors of a connection's session also reach its client through MCP logging, at
        // or above the level it set with logging/setLevel: the SDK keeps that level per transport
        // session id, so pass it. Sessions that stateless requests share have no one client to tell.
        if (session === router.connection()) {
          const transportSessionId = extra.sessionId;
          session.clientLog ??= (level, message) => {
            void server.sendLoggingMessage({ level, logger: SERVER_NAME, data: redactPaths(message, hostPaths) }, transportSessionId).catch(() => undefined);
          };
        }
        const log = session.log.child({ tool: tool.name });
        const progressToken = extra.mcpReq._meta?.progressToken;
        const ctx: ToolContext = {
          session,
          log,
          config,
          telemetry,
          signal: AbortSignal.any([extra.mcpReq.signal, session.endSignal]),
          wantsProgress: progressToken !== undefined,
          progress: (p) => {
            if (progressToken === undefined) return;
            void extra.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, ...p } }).catch(() => undefined);
          },
        };
        const started = performance.now();
        session.beginCall();
        let result: ToolResult;
        const stopped = () => fail(`${tool.name} was stopped: this session ended while it ran (the server is shutting down, or the session was deleted or expired). Start a new session and call again`);
        try {
          result = await tool.handler(ctx, args as never);
          // Aborted by the session's end (not by the client): what the handler made of that is partial.
          if (session.endSignal.aborted && !extra.mcpReq.signal.aborted) result = stopped();
        } catch (err) {
          const e = toSandboxError(err);
          const message = redactPaths(clientMessage(err), hostPaths);
          if (!isSandboxError(err) || e.code === 'INTERNAL') {
            log.error({ err }, 'tool failed');
            session.clientLog?.('error', `${tool.name} failed unexpectedly: ${message}`);
          }
          result = session.ended ? stopped() : fail(`${tool.name} failed: ${message}`);
        } finally {
          session.endCall();
        }
        const notes = session.takeNotes();
        if (notes.length) result.content = [{ type: 'text', text: notes.join('\n') }, ...(result.content ?? [])];
        const ms = performance.now() - started;
        telemetry.toolCall(tool.name, ms, !result.isError);
        log.debug({ ms: Math.round(ms), isError: !!result.isError }, 'tool call');
        return result;
      },
    );
  }
  return server;
}
