import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { CLI } from './helpers.js';

/** A v2 SDK client pinned to MCP 2026-07-28: no initialize, per-request _meta, no session. */
export const PINNED = { versionNegotiation: { mode: { pin: '2026-07-28' as const } } };
export const MODERN_VERSION = '2026-07-28';

export async function modernStdioClient(env: Record<string, string> = {}) {
  const stderr: string[] = [];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      LOG_LEVEL: 'info',
      SANDBOX_WARM_POOL: '0',
      ...env,
    },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const client = new Client({ name: 'sandbox-mcp-tests-modern', version: '1.0.0' }, PINNED);
  await client.connect(transport);
  return { client, transport, stderr };
}

export async function modernHttpClient(url: string, headers: Record<string, string> = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: 'sandbox-mcp-tests-modern', version: '1.0.0' }, PINNED);
  await client.connect(transport);
  return { client, transport };
}

/** The request envelope a 2026-07-28 request carries in params._meta, for raw requests. */
export function envelope(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    ...extra,
  };
}

/** Headers of a raw 2026-07-28 POST of `method` (and `name`, for tools/call). */
export function modernHeaders(method: string, name?: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN_VERSION,
    'mcp-method': method,
    ...(name ? { 'mcp-name': name } : {}),
  };
}
