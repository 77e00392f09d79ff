import { spawn } from 'node:child_process';
import http from 'node:http';
import type { Client } from '@modelcontextprotocol/client';
import { connectOurs } from './client.js';
import { compare, summarize, time, type BenchRunner } from '../src/ops/stats.js';

const SERVER = `const s=require('http').createServer((q,r)=>r.end('x'.repeat(1024)));s.listen(Number(process.env.PORT||0),'127.0.0.1',()=>console.log('up '+s.address().port))`;

/** One GET on a fresh connection (what a browser's first request to a preview pays). */
function get(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

async function tool(client: Client, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Record<string, unknown>;
}

/**
 * Preview proxy and site host cost: a GET through `<port>-<id>.localhost` (host -> Unix socket bridge ->
 * agent -> sandbox port) and a GET of a deployed site, against the same server on host loopback.
 * Target: the proxy adds at most 5 ms at p50.
 */
export const previewBench: BenchRunner = async ({ iterations, stateDir, log }) => {
  const direct = spawn(process.execPath, ['-e', SERVER], { env: { PORT: '0' }, stdio: ['ignore', 'pipe', 'ignore'] });
  const hostPort = await new Promise<number>((r) =>
    direct.stdout!.once('data', (d: Buffer) => r(Number(/up (\d+)/.exec(d.toString())?.[1]))),
  );
  const client = await connectOurs({ SANDBOX_STATE_DIR: stateDir, SANDBOX_WARM_POOL: '0' });
  try {
    await tool(client, 'shell_exec', {
      command: `mkdir -p site && head -c 1024 /dev/zero | tr '\\0' x > site/index.html`,
    });
    await tool(client, 'shell_start', { command: `PORT=5055 node -e "${SERVER}"` });
    let exposed: Record<string, unknown> | undefined;
    for (let i = 0; i < 40 && !exposed; i++)
      exposed = await tool(client, 'expose_port', { port: 5055 }).catch(() => undefined);
    if (!exposed) throw new Error('preview server did not come up');
    const preview = new URL(exposed.url as string);
    const site = new URL((await tool(client, 'deploy_site', { path: 'site', name: 'bench' })).url as string);
    for (let i = 0; i < 5; i++) {
      await get(hostPort, '127.0.0.1');
      await get(Number(preview.port), preview.host);
      await get(Number(site.port), site.host);
    }
    const base: number[] = [];
    const prev: number[] = [];
    const sites: number[] = [];
    for (let i = 0; i < iterations; i++) {
      base.push((await time(() => get(hostPort, '127.0.0.1')))[0]);
      prev.push((await time(() => get(Number(preview.port), preview.host)))[0]);
      sites.push((await time(() => get(Number(site.port), site.host)))[0]);
    }
    log(`${iterations} GETs each`);
    const m = {
      'GET direct to host loopback (baseline)': summarize(base),
      'GET through preview URL (fresh connection)': summarize(prev),
      'GET deployed site (1 KiB index.html)': summarize(sites),
    };
    const b = m['GET direct to host loopback (baseline)'].p50;
    const overhead = m['GET through preview URL (fresh connection)'].p50 - b;
    return {
      name: 'preview',
      metrics: m,
      comparisons: [
        compare(
          'preview GET p50',
          m['GET through preview URL (fresh connection)'].p50,
          'direct loopback GET p50',
          b,
          'ours <= direct + 5 ms',
          overhead <= 5,
        ),
        compare(
          'site GET p50',
          m['GET deployed site (1 KiB index.html)'].p50,
          'direct loopback GET p50',
          b,
          'ours <= direct + 5 ms',
          m['GET deployed site (1 KiB index.html)'].p50 - b <= 5,
        ),
      ],
      notes: [
        `preview proxy overhead at p50: ${overhead.toFixed(2)} ms (includes the agent round trip that opens each bridged connection)`,
      ],
    };
  } finally {
    await client.close();
    direct.kill();
  }
};
