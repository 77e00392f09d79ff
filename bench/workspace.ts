import type { ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startServer } from './http-sessions.js';
import { compare, summarize, time, type BenchRunner } from '../src/ops/stats.js';

/** Our server over HTTP with no warm pool (each new session's first call makes its sandbox). */
export function startHttpServer(stateDir: string): Promise<{ proc: ChildProcess; url: string }> {
  return startServer({ SANDBOX_STATE_DIR: stateDir, SANDBOX_WARM_POOL: '0' });
}

async function session(url: string, workspace?: string): Promise<{ client: Client; end(): Promise<void> }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: workspace ? { 'Sandbox-Workspace': workspace } : {} },
  });
  const client = new Client({ name: 'sandbox-mcp-bench', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    end: async () => {
      await transport.terminateSession();
      await client.close();
    },
  };
}

async function exec(client: Client): Promise<void> {
  const r = await client.callTool({ name: 'shell_exec', arguments: { command: 'true' } });
  if (r.isError) throw new Error(JSON.stringify(r.content));
}

/**
 * Named workspaces: the first call of a new HTTP session that joins a live workspace (its sandbox is
 * reattached) against the first call of a session that gets a fresh sandbox (no warm pool), and a warm
 * call as the floor. Target: joining costs no more than a warm call plus 10 ms.
 */
export const workspaceBench: BenchRunner = async ({ iterations, stateDir, log }) => {
  const { proc, url } = await startHttpServer(stateDir);
  const fresh: number[] = [];
  const join: number[] = [];
  const warm: number[] = [];
  try {
    const holder = await session(url, 'bench');
    await exec(holder.client); // the workspace's sandbox exists from here on
    const rounds = Math.max(5, Math.round(iterations / 2));
    for (let i = 0; i < rounds; i++) {
      const a = await session(url);
      fresh.push((await time(() => exec(a.client)))[0]);
      await a.end();
      const b = await session(url, 'bench');
      join.push((await time(() => exec(b.client)))[0]);
      await b.end();
      warm.push((await time(() => exec(holder.client)))[0]);
      log(
        `round ${i + 1}/${rounds}: fresh ${fresh.at(-1)!.toFixed(1)} ms, join ${join.at(-1)!.toFixed(1)} ms, warm ${warm.at(-1)!.toFixed(1)} ms`,
      );
    }
    await holder.end();
  } finally {
    proc.kill('SIGTERM');
  }
  const m = {
    'first call, fresh sandbox (HTTP)': summarize(fresh),
    'first call, joining a workspace (HTTP)': summarize(join),
    'warm call (HTTP)': summarize(warm),
  };
  const joinP50 = m['first call, joining a workspace (HTTP)'].p50;
  const warmP50 = m['warm call (HTTP)'].p50;
  return {
    name: 'workspace',
    metrics: m,
    comparisons: [
      compare(
        'joining a workspace, first call p50',
        joinP50,
        'warm call p50',
        warmP50,
        'ours <= warm + 10 ms',
        joinP50 <= warmP50 + 10,
      ),
      compare(
        'joining a workspace, first call p50',
        joinP50,
        'fresh sandbox first call p50',
        m['first call, fresh sandbox (HTTP)'].p50,
        'faster than a fresh sandbox',
        joinP50 < m['first call, fresh sandbox (HTTP)'].p50,
      ),
    ],
    notes: [`joining costs ${(joinP50 - warmP50).toFixed(2)} ms over a warm call at p50`],
  };
};
