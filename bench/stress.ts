import { loadConfig } from '../src/config.js';
import { compare, type BenchRunner } from '../src/ops/stats.js';
import { parseStressOptions } from '../src/ops/stress-options.js';
import { runStress, stressSummary } from '../src/ops/stress.js';
import { CLI } from './client.js';

/**
 * The seed's stress test (§5.3), through the same code as `sandbox-mcp bench --stress`: its default load
 * (sized for a 2-core machine) against a server of our own on loopback, the seed's thresholds as the
 * comparisons, and the server's RSS and fd counts before and after as notes (growth means a leak).
 */
export const stressBench: BenchRunner = async ({ stateDir, log }) => {
  const config = loadConfig({ stateDir }, process.env);
  const r = await runStress({
    config,
    options: parseStressOptions({}),
    flags: { stateDir },
    env: process.env,
    cliPath: CLI,
    progress: log,
  });
  for (const line of stressSummary(r).split('\n')) log(line);
  const { create, ...calls } = r.latencyMs;
  const mib = (bytes: number | null) => (bytes === null ? 'unknown' : `${(bytes / 1048576).toFixed(1)} MiB`);
  return {
    name: 'stress',
    metrics: Object.fromEntries([
      ['sandbox creation (initialize + first call)', create],
      ...Object.entries(calls).map(([op, stat]) => [`${op} under load`, stat]),
    ]),
    comparisons: r.thresholds.map((t) =>
      compare(t.name, t.value, 'seed limit', t.limit, t.name.startsWith('success') ? '> limit' : '< limit', t.pass),
    ),
    notes: [
      `${r.settings.sessions} sessions x ${r.settings.concurrency} concurrent calls, ${r.calls.total} calls in ${(r.elapsedMs / 1000).toFixed(1)} s: ${r.throughputPerS} calls/s, ${r.calls.failed} failed`,
      ...r.thresholds.map((t) => `${t.name}: ${t.margin}`),
      `server RSS ${mib(r.server.before.rssBytes)} -> ${mib(r.server.after.rssBytes)} (peak ${mib(r.server.peak.rssBytes)}); fds ${r.server.before.openFds} -> ${r.server.after.openFds} (peak ${r.server.peak.openFds})`,
      ...r.errors.map((e) => `error x${e.count}: ${e.message}`),
    ],
  };
};
