import type { McpServer, ServerContext } from '@modelcontextprotocol/server';
import { clientMessage, isSandboxError, redactPaths, toSandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CallRouter } from '../sessions/manager.js';
import type { Config } from '../config.js';
import type { LocalSiteStore } from '../deploy/store.js';
import type { Session } from '../sessions/session.js';
import type { Telemetry } from '../telemetry.js';
import { fail, type HandleToolContext, type ToolContext, type ToolDefinition, type ToolResult } from './tool.js';
import type { ToolNamer } from './tool-names.js';
import { spillInto, withinBudget } from './tool-result.js';

export const SERVER_NAME = 'sandbox-mcp';

/** One tool call: what it needs from the server it came through. */
export interface CallDeps {
  config: Config;
  telemetry: Telemetry;
  log: Logger;
  router: CallRouter;
  server: McpServer;
  /** Host paths no error text or log message may name (the state dir). */
  hostPaths: string[];
  /** The names tools are served under. */
  names: ToolNamer;
  sites: LocalSiteStore;
}

function progressOf(extra: ServerContext): Pick<ToolContext, 'wantsProgress' | 'progress'> {
  const progressToken = extra.mcpReq._meta?.progressToken;
  return {
    wantsProgress: progressToken !== undefined,
    progress: (progressUpdate) => {
      if (progressToken === undefined) return;
      void extra.mcpReq
        .notify({ method: 'notifications/progress', params: { progressToken, ...progressUpdate } })
        .catch(() => undefined);
    },
  };
}

/** Properties that are null are left out: outputs declare optional fields, never `type: [x, "null"]`. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).flatMap(([k, v]) => (v === null || v === undefined ? [] : [[k, withoutNulls(v)]])),
  );
}

async function finish(
  callDeps: CallDeps,
  name: string,
  log: Logger,
  started: number,
  shaped: ToolResult,
  spill?: ToolContext['spill'],
): Promise<ToolResult> {
  const structured = shaped.structuredContent && (withoutNulls(shaped.structuredContent) as Record<string, unknown>);
  // A failure a tool answers with (rather than throws) is its own text, hints and all: served names.
  if (shaped.isError)
    shaped = {
      ...shaped,
      content: shaped.content?.map((b) => (b.type === 'text' ? { ...b, text: callDeps.names.render(b.text) } : b)),
    };
  const result = await withinBudget(
    structured ? { ...shaped, structuredContent: structured } : shaped,
    callDeps.config.resultMaxKb * 1024,
    { tool: callDeps.names.name, spill },
  ).catch((err: unknown) => {
    log.warn({ err }, 'could not shape a result over the budget');
    return fail(
      `${callDeps.names.name(name)}: the result was over the result budget and could not be written to a file in the sandbox`,
    );
  });
  const ms = performance.now() - started;
  callDeps.telemetry.toolCall(name, ms, !result.isError);
  log.debug({ ms: Math.round(ms), isError: !!result.isError }, 'tool call');
  return result;
}

/** A failure as the model reads it; unexpected ones are logged in full and their text redacted. */
function failure(callDeps: CallDeps, name: string, log: Logger, err: unknown, session?: Session): ToolResult {
  // Hints are written far from here (providers, the in-sandbox agent): they get the served tool names here.
  const message = callDeps.names.render(redactPaths(clientMessage(err), callDeps.hostPaths));
  if (!isSandboxError(err) || toSandboxError(err).code === 'INTERNAL') {
    log.error({ err }, 'tool failed');
    session?.clientLog?.('error', `${name} failed unexpectedly: ${message}`);
  }
  return fail(`${name} failed: ${message}`);
}

/** sandbox_create, sandbox_delete: no session, the caller's handles. */
export async function callHandleTool(
  callDeps: CallDeps,
  tool: ToolDefinition & { kind: 'handles' },
  args: Record<string, unknown>,
  extra: ServerContext,
): Promise<ToolResult> {
  const log = callDeps.log.child({ tool: tool.name });
  const started = performance.now();
  const name = callDeps.names.name(tool.name);
  const ctx: HandleToolContext = {
    log,
    config: callDeps.config,
    telemetry: callDeps.telemetry,
    signal: extra.mcpReq.signal,
    handles: callDeps.router,
    tool: callDeps.names.name,
    renderNames: callDeps.names.render,
    ...progressOf(extra),
  };
  try {
    return await finish(callDeps, tool.name, log, started, await tool.handler(ctx, args as never));
  } catch (err) {
    return finish(callDeps, tool.name, log, started, failure(callDeps, name, log, err));
  }
}

/** A tool that works in a sandbox: the session its `sandbox` handle, workspace or connection reaches. */
export async function callSandboxTool(
  callDeps: CallDeps,
  tool: ToolDefinition & { kind?: 'sandbox' },
  input: Record<string, unknown>,
  extra: ServerContext,
): Promise<ToolResult> {
  const { sandbox: handle, ...args } = input;
  const name = callDeps.names.name(tool.name);
  let session: Session;
  try {
    session = callDeps.router.session(handle as string | undefined);
  } catch (err) {
    return finish(callDeps, tool.name, callDeps.log, performance.now(), failure(callDeps, name, callDeps.log, err));
  }
  // Warnings and errors of a connection's session also reach its client through MCP logging, at or
  // above the level it set with logging/setLevel: the SDK keeps that level per transport session id,
  // so pass it. Sessions of handles and of stateless requests have no one client to tell.
  if (session === callDeps.router.connection()) {
    const transportSessionId = extra.sessionId;
    session.clientLog ??= (level, message) => {
      void callDeps.server
        .sendLoggingMessage(
          { level, logger: SERVER_NAME, data: redactPaths(message, callDeps.hostPaths) },
          transportSessionId,
        )
        .catch(() => undefined);
    };
  }
  const log = session.log.child({ tool: tool.name });
  const ctx: ToolContext = {
    session,
    sites: callDeps.sites,
    log,
    config: callDeps.config,
    telemetry: callDeps.telemetry,
    signal: AbortSignal.any([extra.mcpReq.signal, session.endSignal]),
    tool: callDeps.names.name,
    renderNames: callDeps.names.render,
    spill: (label, content) => spillInto(session, tool.name, label, content),
    ...progressOf(extra),
  };
  const started = performance.now();
  session.beginCall();
  let result: ToolResult;
  const stopped = () =>
    fail(
      `${name} was stopped: this session ended while it ran (the server is shutting down, or the session was deleted or expired). Start a new session and call again`,
    );
  try {
    result = await tool.handler(ctx, args as never);
    // Aborted by the session's end (not by the client): what the handler made of that is partial.
    if (session.endSignal.aborted && !extra.mcpReq.signal.aborted) result = stopped();
  } catch (err) {
    // A handle whose sandbox the provider lost ends with its session, and says so itself.
    const failed = failure(callDeps, name, log, session.explain(err), session);
    result = session.ended && !session.gone ? stopped() : failed;
  } finally {
    session.endCall();
  }
  const notes = session.takeNotes().map(callDeps.names.render);
  if (notes.length) result.content = [{ type: 'text', text: notes.join('\n') }, ...(result.content ?? [])];
  return finish(callDeps, tool.name, log, started, result, session.ended ? undefined : ctx.spill);
}
