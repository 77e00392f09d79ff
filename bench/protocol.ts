import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { compare, summarize, time, type BenchRunner } from '../src/ops/stats.js';
import { startHttpServer } from './workspace.js';

async function exec(client: Client, args: Record<string, unknown>): Promise<void> {
  const r = await client.callTool({ name: 'shell_exec', arguments: { command: 'true', ...args } });
  if (r.isError) throw new Error(JSON.stringify(r.content));
}

/**
 * The two protocol revisions over HTTP: a warm shell_exec of a 2025-11-25 session (initialize, then
 * Mcp-Session-Id) against the same call of a client pinned to 2026-07-28, stateless, whose server builds
 * an McpServer per request and finds the sandbox by its handle. Target: modern no slower than legacy + 1 ms.
 */
export const protocolBench: BenchRunner = async ({ iterations, stateDir, log }) => {
  const { proc, url } = await startHttpServer(stateDir);
  const legacy: number[] = [];
  const modern: number[] = [];
  try {
    const legacyClient = new Client({ name: 'sandbox-mcp-bench', version: '1.0.0' });
    await legacyClient.connect(new StreamableHTTPClientTransport(new URL(url)));
    const modernClient = new Client(
      { name: 'sandbox-mcp-bench', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await modernClient.connect(new StreamableHTTPClientTransport(new URL(url)));
    const created = await modernClient.callTool({ name: 'sandbox_create', arguments: {} });
    const sandbox = (created.structuredContent as { sandbox: string }).sandbox;
    await exec(legacyClient, {}); // both sandboxes exist from here on
    await exec(modernClient, { sandbox });
    // Interleaved, so load on the machine weighs on both alike. A 1 ms target needs more samples than the
    // default 30: at 30 the p50 difference wandered by ±2 ms between runs on a quiet machine, at 200 by 0.1 ms.
    const rounds = Math.max(iterations, 200);
    for (let i = 0; i < rounds; i++) {
      legacy.push((await time(() => exec(legacyClient, {})))[0]);
      modern.push((await time(() => exec(modernClient, { sandbox })))[0]);
    }
    log(`legacy p50 ${summarize(legacy).p50} ms, modern p50 ${summarize(modern).p50} ms`);
    await Promise.all([legacyClient.close(), modernClient.close()]);
  } finally {
    proc.kill('SIGTERM');
  }
  const m = {
    'warm shell_exec, 2025-11-25 session (HTTP)': summarize(legacy),
    'warm shell_exec, 2026-07-28 handle (HTTP)': summarize(modern),
  };
  const l = m['warm shell_exec, 2025-11-25 session (HTTP)'].p50;
  const o = m['warm shell_exec, 2026-07-28 handle (HTTP)'].p50;
  return {
    name: 'protocol',
    metrics: m,
    comparisons: [
      compare(
        '2026-07-28 warm shell_exec p50',
        o,
        '2025-11-25 warm shell_exec p50',
        l,
        'ours <= legacy + 1 ms',
        o <= l + 1,
      ),
    ],
    notes: [`2026-07-28 is ${(o - l).toFixed(2)} ms ${o >= l ? 'slower' : 'faster'} than 2025-11-25 at p50`],
  };
};
