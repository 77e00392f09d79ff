import type { CallToolRequest, CallToolResult, McpServer, ServerContext } from '@modelcontextprotocol/server';

type CallToolHandler = (request: CallToolRequest, ctx: ServerContext) => Promise<unknown>;

/**
 * SDK v1 answered a call of an unknown tool with an isError result ("MCP error -32602: Tool x not
 * found") that the model reads and recovers from; v2 answers with a JSON-RPC error, as the spec words
 * it. 2025-era clients keep what they had (the model sees its typo); 2026-07-28 requests, which carry
 * the per-request `_meta` envelope, get the spec's error. Installed before the first tool is
 * registered: McpServer sets its tools/call handler then, through this method (so the server must not
 * declare the tools capability at construction, which would set it earlier).
 */
export function keepV1UnknownToolResult(server: McpServer, known: ReadonlySet<string>): void {
  const low = server.server;
  const install = low.setRequestHandler.bind(low) as (method: string, handler: CallToolHandler) => void;
  (low as { setRequestHandler: unknown }).setRequestHandler = (method: string, handler: CallToolHandler) => {
    if (method !== 'tools/call') return install(method, handler);
    install(method, async (request, ctx) => {
      if (known.has(request.params.name) || ctx.mcpReq.envelope) return handler(request, ctx);
      const result: CallToolResult = {
        isError: true,
        content: [{ type: 'text', text: `MCP error -32602: Tool ${request.params.name} not found` }],
      };
      return result;
    });
  };
}
