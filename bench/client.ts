import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');

/** Any stdio MCP server (ours or a peer), connected with the SDK's client. */
export async function connectStdio(command: string, args: string[], env: Record<string, string> = {}): Promise<Client> {
  const transport = new StdioClientTransport({
    command,
    args,
    stderr: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LOG_LEVEL: 'warn', ...env },
  });
  const client = new Client({ name: 'sandbox-mcp-bench', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

export function connectOurs(env: Record<string, string>): Promise<Client> {
  return connectStdio(process.execPath, [CLI], env);
}
