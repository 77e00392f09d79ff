import { randomBytes } from 'node:crypto';
import { summarize, type Stat } from './stats.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createProvider } from '../providers/index.js';
import type { Sandbox, SandboxProvider } from '../providers/types.js';

interface OpResult {
  stats: Stat;
  attempts: number;
  successes: number;
  successRate: number;
}

type Operation = 'create' | 'exec' | 'file';

/** Durations of the operations that succeeded, attempts of each, and the first errors. */
class Timings {
  private readonly samples: Record<Operation, number[]> = { create: [], exec: [], file: [] };
  private readonly attempts: Record<Operation, number> = { create: 0, exec: 0, file: 0 };
  readonly errors: string[] = [];

  async timed(operation: Operation, callback: () => Promise<void>): Promise<boolean> {
    this.attempts[operation]++;
    const t0 = performance.now();
    try {
      await callback();
      this.samples[operation].push(performance.now() - t0);
      return true;
    } catch (e) {
      this.errors.push(`${operation}: ${(e as Error).message}`);
      return false;
    }
  }

  result(operation: Operation): OpResult {
    const samples = this.samples[operation];
    const attempts = this.attempts[operation];
    return {
      stats: summarize(samples),
      attempts,
      successes: samples.length,
      successRate: attempts ? samples.length / attempts : 0,
    };
  }
}

/** One round: create a sandbox, run a command in it, round-trip a file, kill it. */
async function benchRound(provider: SandboxProvider, timings: Timings, payload: Buffer): Promise<void> {
  let sb: Sandbox | undefined;
  if (
    !(await timings.timed('create', async () => {
      sb = await provider.create({ labels: { purpose: 'bench' }, timeoutMs: 120_000 });
    }))
  )
    return;
  await timings.timed('exec', async () => {
    const r = await sb!.exec('echo ok', { timeoutMs: 30_000 });
    if (r.exitCode !== 0 || r.stdout !== 'ok\n') throw new Error(`unexpected result: exit ${r.exitCode}`);
  });
  await timings.timed('file', async () => {
    await sb!.files.write('bench.bin', payload);
    const back = await sb!.files.read('bench.bin');
    if (!back.data.equals(payload)) throw new Error('file read back differs');
  });
  await sb!.kill().catch(() => undefined);
}

/**
 * The seed's performance test on the configured provider: sandbox creation, command execution and a
 * file write/read round trip, each with min/median/p95/max/stdev and a success rate. The seed's
 * targets (creation < 30 s, command < 5 s, success > 95 %) are checked and reported.
 */
export async function perf(
  config: Config,
  log: Logger,
  opts: { json: boolean; iterations: number; progress?: (line: string) => void },
): Promise<{ exitCode: number; report: string }> {
  const provider = await createProvider({ ...config, warmPool: 0 }, log);
  const timings = new Timings();
  const payload = randomBytes(64 * 1024);
  for (let i = 0; i < opts.iterations; i++) {
    opts.progress?.(`bench ${i + 1}/${opts.iterations}`);
    await benchRound(provider, timings, payload);
  }
  await provider.shutdown();
  const ops = { create: timings.result('create'), exec: timings.result('exec'), file: timings.result('file') };
  const all = Object.values(ops);
  const overall =
    all.reduce((a, o) => a + o.successes, 0) /
    Math.max(
      1,
      all.reduce((a, o) => a + o.attempts, 0),
    );
  const targets = [
    { name: 'creation p95 < 30 s', pass: ops.create.stats.p95 < 30_000 },
    { name: 'command p95 < 5 s', pass: ops.exec.stats.p95 < 5_000 },
    { name: 'success rate > 95 %', pass: overall > 0.95 },
  ];
  const { errors } = timings;
  const out = {
    provider: config.provider,
    iterations: opts.iterations,
    operations: ops,
    successRate: overall,
    targets,
    errors: errors.slice(0, 20),
  };
  const exitCode = targets.every((t) => t.pass) ? 0 : 1;
  if (opts.json) return { exitCode, report: JSON.stringify(out, null, 2) };
  const row = (name: string, opResult: OpResult) =>
    `${name.padEnd(22)} min ${opResult.stats.min}  p50 ${opResult.stats.p50}  p95 ${opResult.stats.p95}  max ${opResult.stats.max}  sd ${opResult.stats.stdev}  ok ${opResult.successes}/${opResult.attempts}`;
  const report = [
    `provider ${config.provider}, ${opts.iterations} iterations (ms)`,
    row('sandbox creation', ops.create),
    row('command (echo)', ops.exec),
    row('file write+read 64 KiB', ops.file),
    `success rate ${(overall * 100).toFixed(1)} %`,
    ...targets.map((t) => `${t.pass ? '✔' : '✘'} ${t.name}`),
    ...errors.slice(0, 5).map((e) => `error: ${e}`),
  ].join('\n');
  return { exitCode, report };
}
