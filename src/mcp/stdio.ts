import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
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
  // One message may be as large as an HTTP body (the SDK's own cap is 10 MB). A message over the cap
  // makes the SDK drop the transport, ending the session: the error says why in the log.
  const transport = new StdioServerTransport(process.stdin, process.stdout, { maxBufferSize: o.config.maxBodyBytes });
  transport.onerror = (err) => o.log.error({ err }, 'stdio transport error');
  transport.onclose = () => o.onEnd('stdio transport closed');
  process.stdin.on('end', () => o.onEnd('stdin closed'));
  await server.connect(transport);
  o.log.info({ transport: 'stdio', provider: o.config.provider }, 'serving MCP over stdio');
}
