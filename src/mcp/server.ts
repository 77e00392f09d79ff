import { z } from 'zod';
import { McpServer, type ServerContext } from '@modelcontextprotocol/server';
import type { Config } from '../config.js';
import { clientMessage, isSandboxError, redactPaths, toSandboxError } from '../errors.js';
import type { Session } from '../sessions/session.js';
import type { Telemetry } from '../telemetry.js';
import { fail, type ToolContext, type ToolDefinition, type ToolResult } from './tool.js';

export const SERVER_NAME = 'sandbox-mcp';
export const SERVER_VERSION = '0.1.0';

const INSTRUCTIONS = `This server gives you a private Linux sandbox: a shell, files and (where enabled) a browser, dev servers and deploys.
The sandbox starts at your first call and keeps its files and processes between calls; the workdir is /workspace.
Run short commands with shell_exec; start servers and long jobs with shell_start, then follow them with shell_read.
Network access from the sandbox may be off (sandbox_info tells). Idle sandboxes are deleted after a while: keep results you need in files you read back, not in memory.`;

/**
 * One McpServer per MCP session, with every tool bound to that session. `sessionOf` is called at each
 * tool call: over HTTP the session id exists only once initialize has been answered.
 */
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

export function buildServer(tools: ToolDefinition[], sessionOf: () => Session, deps: ServerDeps): McpServer {
  const { config, telemetry } = deps;
  // What the server keeps under the state dir (other sandboxes' folders, the site store) is no session's
  // business: error texts and log messages never name it. Unisolated, sandbox paths are host paths there.
  const hostPaths = config.provider === 'local' && config.isolation === 'none' ? [] : [config.stateDir];
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    { capabilities: { tools: {}, logging: {} }, instructions: INSTRUCTIONS },
  );
  for (const tool of tools) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: strictInput(tool.name, tool.inputSchema),
        outputSchema: tool.outputSchema && z.object(tool.outputSchema),
        annotations: { title: tool.title, ...tool.annotations },
      },
      async (args: Record<string, unknown>, extra: ServerContext) => {
        const session = sessionOf();
        // Warnings and errors also reach the client through MCP logging, at or above the level it set
        // with logging/setLevel: the SDK keeps that level per transport session id, so pass it.
        const transportSessionId = extra.sessionId;
        session.clientLog ??= (level, message) => {
          void server.sendLoggingMessage({ level, logger: SERVER_NAME, data: redactPaths(message, hostPaths) }, transportSessionId).catch(() => undefined);
        };
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
