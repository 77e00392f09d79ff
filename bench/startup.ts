import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLI, connectStdio } from './client.js';
import { compare, summarize, time, type BenchRunner } from '../src/ops/stats.js';

/**
 * Issue 4: what the cloud SDKs cost at start-up. Connect + `initialize` over stdio for the local
 * provider (vendor SDKs never loaded), the local provider with both SDKs force-loaded through
 * `node --import` (what eager imports would cost everyone), and the e2b and daytona providers pointed
 * at a loopback stub of the one endpoint they call at start (the orphan listing).
 */
export const startupBench: BenchRunner = async ({ iterations, stateDir, log }) => {
  const stub = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && path === '/v2/sandboxes') return res.end('[]');
    if (req.method === 'GET' && path === '/sandbox') return res.end('{"items":[],"total":0,"nextCursor":null}');
    res.statusCode = 404;
    res.end('{"code":404,"message":"not in the stub"}');
  });
  await new Promise<void>((r) => stub.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  const base = { SANDBOX_STATE_DIR: stateDir, SANDBOX_WARM_POOL: '0' };
  const variants: Record<string, { args: string[]; env: Record<string, string> }> = {
    'initialize, local (SDKs not loaded)': { args: [CLI], env: { ...base, SANDBOX_PROVIDER: 'local' } },
    'initialize, local with both SDKs force-loaded': {
      args: ['--import', 'e2b', '--import', '@daytonaio/sdk', CLI],
      env: { ...base, SANDBOX_PROVIDER: 'local' },
    },
    'initialize, e2b (stub API)': {
      args: [CLI],
      env: { ...base, SANDBOX_PROVIDER: 'e2b', E2B_API_KEY: 'e2b_bench', E2B_API_URL: url, E2B_SANDBOX_URL: url },
    },
    'initialize, daytona (stub API)': {
      args: [CLI],
      env: { ...base, SANDBOX_PROVIDER: 'daytona', DAYTONA_API_KEY: 'bench', DAYTONA_SERVER_URL: url },
    },
  };
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const rounds = Math.max(5, Math.round(iterations / 3));
  try {
    // Interleaved so drift in machine load hits every variant alike.
    for (let i = 0; i < rounds; i++) {
      for (const [name, v] of Object.entries(variants)) {
        const [ms, client] = await time(() => connectStdio(process.execPath, v.args, v.env));
        samples[name]!.push(ms);
        await client.close();
      }
      log(
        `round ${i + 1}/${rounds}: ${Object.entries(samples)
          .map(([k, s]) => `${k.replace('initialize, ', '')} ${s.at(-1)!.toFixed(0)} ms`)
          .join(', ')}`,
      );
    }
  } finally {
    stub.close();
  }
  // What each SDK costs to import on its own: a bare node process with and without it.
  const bare: Record<string, string[]> = {
    'node process, no import': ['-e', '0'],
    'import e2b (node --import)': ['--import', 'e2b', '-e', '0'],
    'import @daytonaio/sdk (node --import)': ['--import', '@daytonaio/sdk', '-e', '0'],
  };
  for (const k of Object.keys(bare)) samples[k] = [];
  for (let i = 0; i < rounds; i++) {
    for (const [name, args] of Object.entries(bare)) samples[name]!.push((await time(() => runNode(args)))[0]);
  }
  const m = Object.fromEntries(Object.entries(samples).map(([k, s]) => [k, summarize(s)]));
  const local = m['initialize, local (SDKs not loaded)']!.p50;
  const eager = m['initialize, local with both SDKs force-loaded']!.p50;
  const e2b = m['initialize, e2b (stub API)']!.p50;
  const daytona = m['initialize, daytona (stub API)']!.p50;
  return {
    name: 'startup',
    metrics: m,
    comparisons: [
      compare(
        'local initialize p50 (lazy SDKs)',
        local,
        'same with SDKs force-loaded',
        eager,
        'lazy < eager: a local user pays nothing for the SDKs',
        local < eager,
      ),
      // The SDK loads after the server is serving, so a cloud initialize should cost what a local one does.
      compare(
        'e2b initialize p50',
        e2b,
        'local initialize p50',
        local,
        '<= 1.25x local (SDK loads after initialize)',
        e2b <= local * 1.25,
      ),
      compare(
        'daytona initialize p50',
        daytona,
        'local initialize p50',
        local,
        '<= 1.25x local (SDK loads after initialize)',
        daytona <= local * 1.25,
      ),
    ],
    notes: [
      `the SDKs would add ${(eager - local).toFixed(0)} ms to every local start if imported eagerly`,
      `SDK import alone (p50, node process with the import minus without): e2b ${(m['import e2b (node --import)']!.p50 - m['node process, no import']!.p50).toFixed(0)} ms, @daytonaio/sdk ${(m['import @daytonaio/sdk (node --import)']!.p50 - m['node process, no import']!.p50).toFixed(0)} ms`,
    ],
  };
};

function runNode(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`node ${args.join(' ')} exited with ${code}`))));
  });
}
