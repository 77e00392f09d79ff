import type { IncomingMessage, ServerResponse } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, isLegacyRequest, type McpRequestContext } from '@modelcontextprotocol/server';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../sessions/manager.js';
import type { RequestGuards } from './guards.js';
import { requestedWorkspace } from './http-io.js';
import { buildServer, type ServerDeps } from './server.js';
import type { ToolDefinition } from './tool.js';

/**
 * Whether a request speaks a 2025-era revision (no per-request `_meta` claim: initialize, session
 * requests, GET and DELETE of a session), by the SDK's own classification. The body is already parsed:
 * the predicate only needs the method and headers beside it.
 */
export function isLegacy(req: IncomingMessage, body: unknown): Promise<boolean> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return isLegacyRequest(new Request('http://localhost/mcp', { method: req.method ?? 'GET', headers }), body);
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
export function modernEndpoint(o: ServerDeps & { log: Logger; sessions: SessionManager; tools: ToolDefinition[]; guards: RequestGuards }): ModernEndpoint {
  const factory = (ctx: McpRequestContext) => {
    const req = ctx.requestInfo;
    // The same header and query rules as a 2025-era session's initialize, applied to each request.
    const workspace = requestedWorkspace(req?.headers.get('sandbox-workspace'), req?.url);
    const authorization = req?.headers.get('authorization') ?? undefined;
    return buildServer(o.tools, o.sessions.router({ workspace, principal: o.guards.principal({ authorization }) }), o);
  };
  const handler = createMcpHandler(factory, {
    legacy: 'reject', // 2025-era requests never get here: they go to the session table
    onerror: (err) => o.log.debug({ err: err.message }, 'MCP 2026-07-28 request refused or failed'),
  });
  const serve = toNodeHandler(handler, { onerror: (err) => o.log.error({ err }, 'MCP 2026-07-28 request failed') });
  return {
    handle: (req, res, body) => serve(req, res, body),
    close: () => handler.close(),
  };
}
