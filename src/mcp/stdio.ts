import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../sessions/manager.js';
import { buildServer, type ServerDeps } from './server.js';
import type { ToolDefinition } from './tool.js';

/** stdio is one session; the client closing stdin ends it. */
export async function serveStdio(o: ServerDeps & {
  log: Logger; sessions: SessionManager; tools: ToolDefinition[]; onEnd: (reason: string) => void;
}): Promise<void> {
  const session = o.sessions.open('stdio');
  const server = buildServer(o.tools, () => session, o);
  const transport = new StdioServerTransport();
  transport.onclose = () => o.onEnd('stdio transport closed');
  process.stdin.on('end', () => o.onEnd('stdin closed'));
  await server.connect(transport);
  o.log.info({ transport: 'stdio', provider: o.config.provider }, 'serving MCP over stdio');
}
