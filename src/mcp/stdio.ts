import { serveStdio as serveBothEras, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { Logger } from '../logger.js';
import type { SessionManager } from '../sessions/manager.js';
import { buildServer, type ServerDeps } from './server.js';
import type { ToolDefinition } from './tool.js';

/**
 * The SDK's serving entry takes the transport's close callback for itself; the server must still end
 * when the wire goes (a message over SANDBOX_MAX_BODY drops it), so this transport reports its close.
 */
class EndingStdioTransport extends StdioServerTransport {
  constructor(
    maxBufferSize: number,
    private readonly onEnded: () => void,
  ) {
    super(process.stdin, process.stdout, { maxBufferSize });
  }

  override async close(): Promise<void> {
    await super.close();
    this.onEnded();
  }
}

/**
 * stdio is one connection and one session, whichever revision the client opens with: 2025-11-25
 * (initialize) or 2026-07-28 (server/discover, per-request _meta). The connection is pinned to its
 * era, so it keeps one sandbox either way; the client closing stdin ends it.
 */
export async function serveStdio(
  options: ServerDeps & {
    log: Logger;
    sessions: SessionManager;
    tools: ToolDefinition[];
    onEnd: (reason: string) => void;
  },
): Promise<void> {
  const session = options.sessions.open('stdio');
  // No token on stdio: whoever launched the server is its one caller.
  const router = options.sessions.router({ connection: () => session, principal: 'stdio' });
  // One message may be as large as an HTTP body (the SDK's own cap is 10 MB). A message over the cap
  // makes the SDK drop the transport, ending the session: the error says why in the log.
  const transport = new EndingStdioTransport(options.config.maxBodyBytes, () =>
    options.onEnd('stdio transport closed'),
  );
  process.stdin.on('end', () => options.onEnd('stdin closed'));
  // Called for the connection's instance, and once more for a server/discover probe the client may
  // follow with initialize: both reach the one session of this connection.
  serveBothEras(() => buildServer(options.tools, router, options), {
    transport,
    onerror: (err) => options.log.error({ err }, 'stdio transport error'),
  });
  options.log.info(
    { transport: 'stdio', provider: options.config.provider },
    'serving MCP over stdio (2025-11-25 and 2026-07-28)',
  );
}
