import type { IncomingMessage, ServerResponse } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { classifyInboundRequest, createMcpHandler, type McpRequestContext } from '@modelcontextprotocol/server';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../sessions/manager.js';
import type { RequestGuards } from './guards.js';
import { requestedWorkspace } from './http-io.js';
import { buildServer, type ServerDeps } from './server.js';
import type { ToolDefinition } from './tool.js';

/**
 * Whether a request speaks a 2025-era revision (no per-request `_meta` claim: initialize, session
 * requests, GET and DELETE of a session). This is the SDK's isLegacyRequest minus building a web
 * Request: the same classifyInboundRequest over the same inputs (test/modern-routing.test.ts holds the
 * two to the same answers), since the body is parsed already and every call pays for the routing.
 */
export function isLegacy(req: Pick<IncomingMessage, 'method' | 'headers'>, body: unknown): boolean {
  const httpMethod = (req.method ?? 'GET').toUpperCase();
  if (httpMethod === 'POST' && body === undefined) return true; // no JSON body: the legacy transport answers it
  const header = (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  return (
    classifyInboundRequest({
      httpMethod,
      protocolVersionHeader: header('mcp-protocol-version'),
      mcpMethodHeader: header('mcp-method'),
      mcpNameHeader: header('mcp-name'),
      ...(body !== undefined && { body }),
    }).kind === 'legacy'
  );
}

export interface ModernEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void>;
  close(): Promise<void>;
}

/**
 * MCP 2026-07-28 over HTTP: stateless, one McpServer per request. The SDK validates the per-request
 * `_meta`, the Mcp-Method/Mcp-Name headers and the protocol version, answers server/discover, and adds
 * the cache hints; a request reaches the sandbox its arguments or headers name, never a session's.
 */
export function modernEndpoint(
  options: ServerDeps & { log: Logger; sessions: SessionManager; tools: ToolDefinition[]; guards: RequestGuards },
): ModernEndpoint {
  /**
   * A tools/call needs only its own tool: registering all of them costs about a millisecond per request,
   * most of a stateless call's overhead. The Mcp-Method and Mcp-Name headers say which (the SDK refuses a
   * request whose headers and body disagree); an unknown name gets every tool, and the SDK's own error.
   */
  const toolsFor = (req: Request | undefined): ToolDefinition[] => {
    if (req?.headers.get('mcp-method') !== 'tools/call') return options.tools;
    const name = req.headers.get('mcp-name')?.trim();
    const tool = options.tools.find((t) => options.names.name(t.name) === name);
    return tool ? [tool] : options.tools;
  };
  const factory = (ctx: McpRequestContext) => {
    const req = ctx.requestInfo;
    // The same header and query rules as a 2025-era session's initialize, applied to each request.
    const workspace = requestedWorkspace(req?.headers.get('sandbox-workspace'), req?.url);
    const authorization = req?.headers.get('authorization') ?? undefined;
    return buildServer(
      toolsFor(req),
      options.sessions.router({ workspace, principal: options.guards.principal({ authorization }) }),
      options,
    );
  };
  const handler = createMcpHandler(factory, {
    legacy: 'reject', // 2025-era requests never get here: they go to the session table
    onerror: (err) => options.log.debug({ err: err.message }, 'MCP 2026-07-28 request refused or failed'),
  });
  const serve = toNodeHandler(handler, {
    onerror: (err) => options.log.error({ err }, 'MCP 2026-07-28 request failed'),
  });
  return {
    handle: (req, res, body) => serve(req, res, body),
    close: () => handler.close(),
  };
}
