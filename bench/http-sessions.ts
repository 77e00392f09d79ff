import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { CLI } from './client.js';

/** Our server over HTTP on a free port, with `env` added to a bare environment. */
/** `user`: a root bench starts the server as this uid (its HOME and state dir must be that uid's). */
export async function startServer(
  env: Record<string, string>,
  user?: number,
): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [CLI, '--port', '0'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(user === undefined ? {} : { uid: user, gid: user }),
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start in 20 s')), 20_000);
    readline.createInterface({ input: proc.stderr! }).on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'listening' && rec.url) {
          clearTimeout(timer);
          resolve(rec.url);
        }
      } catch {
        /* not JSON */
      }
    });
  });
  return { proc, url };
}

export async function stopServer(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  await exited;
}

export interface HttpSession {
  client: Client;
  end(): Promise<void>;
}

/** One 2025-11-25 HTTP session (its sandbox is made by its first call). */
export async function openSession(url: string): Promise<HttpSession> {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: 'sandbox-mcp-bench', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    end: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

export async function shellExec(client: Client, command: string): Promise<string> {
  const result = await client.callTool({ name: 'shell_exec', arguments: { command } });
  const out = result.structuredContent as { stdout?: string } | undefined;
  if (result.isError) throw new Error(JSON.stringify(result.content).slice(0, 300));
  return out?.stdout ?? '';
}

/** Milliseconds `callback` took, or undefined when it threw (counted as an error by the caller). */
export async function timeOrFail(callback: () => Promise<unknown>): Promise<number | undefined> {
  const t0 = performance.now();
  try {
    await callback();
    return performance.now() - t0;
  } catch {
    return undefined;
  }
}
