import type { Config } from '../config.js';
import { summarize, type Stat } from './stats.js';
import type { StressOptions } from './stress-options.js';
import { Budget, Recorder, loadSession, openSession, type Operation } from './stress-load.js';
import { ownServer, remoteTarget, type ServerSample, type StressTarget } from './stress-target.js';

/** A threshold of the seed, with how far inside (or outside) it the run is. */
export interface Threshold {
  name: string;
  value: number;
  limit: number;
  pass: boolean;
  /** "12.3x inside" for times (limit / value), "4.8 points inside" for the success rate. */
  margin: string;
}

export interface StressResult {
  target: { url: string; startedHere: boolean; provider: string | null; samples: StressTarget['sampleSource'] };
  settings: { sessions: number; concurrency: number; durationS: number; calls: number };
  elapsedMs: number;
  calls: { total: number; ok: number; failed: number };
  throughputPerS: number;
  successRate: number;
  latencyMs: Record<'all' | Operation, Stat>;
  server: {
    before: ServerSample;
    peak: ServerSample;
    after: ServerSample;
    growth: ServerSample;
    exitCode?: number | null;
  };
  thresholds: Threshold[];
  pass: boolean;
  errors: { message: string; count: number }[];
}

export interface StressRun {
  config: Config;
  options: StressOptions;
  /** The server's own flags from the command line, passed to a server this run starts. */
  flags: Record<string, string>;
  /** The environment the command started with, for a server this run starts. */
  env: NodeJS.ProcessEnv;
  /** dist/cli.js: what a server of our own runs. */
  cliPath: string;
  progress?: (line: string) => void;
}

const SAMPLE_EVERY_MS = 500;
/** Before the "before" sample: a warm pool fills right after the server starts listening. */
const SETTLE_MS = 1500;
/**
 * The "after" sample waits (at most this long) for the fd count to fall back to where it was: the client's
 * idle keep-alive connections stay open until the server's keep-alive timeout (Node's default: 5 s) closes
 * them, and would read as a leak. A real leak stays after that.
 */
const AFTER_WAIT_MS = 8000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
const diff = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a);

function thresholds(stressOptions: StressOptions, create: Stat, exec: Stat, successRate: number): Threshold[] {
  const time = (name: string, value: number, limit: number): Threshold => ({
    name,
    value,
    limit,
    pass: value < limit,
    margin: Number.isNaN(value)
      ? 'no sample'
      : value < limit
        ? `${(limit / Math.max(value, 0.01)).toFixed(1)}x inside`
        : `${(value / limit).toFixed(1)}x over`,
  });
  const percent = Math.round(successRate * 10_000) / 100;
  const points = Math.abs(percent - stressOptions.minSuccessPercent).toFixed(2);
  return [
    time('sandbox creation p95 (ms)', create.p95, stressOptions.maxCreateMs),
    time('command execution p95 (ms)', exec.p95, stressOptions.maxExecMs),
    {
      name: 'success rate (%)',
      value: percent,
      limit: stressOptions.minSuccessPercent,
      pass: percent > stressOptions.minSuccessPercent,
      margin: percent > stressOptions.minSuccessPercent ? `${points} points inside` : `${points} points short`,
    },
  ];
}

async function settled(target: StressTarget, before: ServerSample): Promise<ServerSample> {
  const until = Date.now() + AFTER_WAIT_MS;
  for (;;) {
    await sleep(SAMPLE_EVERY_MS);
    const now = await target.sample();
    if (now.openFds === null || before.openFds === null || now.openFds <= before.openFds || Date.now() > until)
      return now;
  }
}

/** Runs the load and measures it; the target server (when started here) is stopped before returning. */
export async function runStress(run: StressRun): Promise<StressResult> {
  const o = run.options;
  const target = o.url
    ? await remoteTarget(o.url, o.token ?? run.config.authToken)
    : await ownServer(run.cliPath, run.config, run.flags, run.env);
  let exitCode: number | null | undefined;
  const rec = new Recorder();
  try {
    // The same settling time before as after: a warm pool fills right after the server starts listening.
    if (target.startedHere) await sleep(SETTLE_MS);
    const before = await target.sample();
    let peak = before;
    const sampler = setInterval(() => {
      void target.sample().then((serverSample) => {
        peak = {
          rssBytes: maxOf(peak.rssBytes, serverSample.rssBytes),
          openFds: maxOf(peak.openFds, serverSample.openFds),
        };
      });
    }, SAMPLE_EVERY_MS);
    // Every session is made at once (the creation burst), then the load runs for its bounds.
    const sessions = await Promise.all(
      Array.from({ length: o.sessions }, () => openSession(target.url, target.headers, rec)),
    );
    const started = performance.now();
    const budget = new Budget(o.calls, Date.now() + o.durationS * 1000);
    const ticker = setInterval(() => {
      const seconds = Math.round((performance.now() - started) / 1000);
      run.progress?.(`stress: ${rec.succeeded} ok, ${rec.failed} failed, ${seconds} s`);
    }, 1000);
    await Promise.all(sessions.map((s, i) => (s ? loadSession(s, i, o.concurrency, rec, budget) : undefined)));
    const elapsedMs = performance.now() - started;
    await Promise.all(sessions.map((s) => s?.end()));
    clearInterval(ticker);
    clearInterval(sampler);
    const after = await settled(target, before);
    peak = { rssBytes: maxOf(peak.rssBytes, after.rssBytes), openFds: maxOf(peak.openFds, after.openFds) };
    const provider = (await target.provider()) ?? null;
    exitCode = await target.stop();
    return summarizeRun(run, target, rec, elapsedMs, provider, { before, peak, after, exitCode });
  } finally {
    if (exitCode === undefined) await target.stop();
  }
}

function summarizeRun(
  run: StressRun,
  target: StressTarget,
  rec: Recorder,
  elapsedMs: number,
  provider: string | null,
  samples: { before: ServerSample; peak: ServerSample; after: ServerSample; exitCode: number | null | undefined },
): StressResult {
  const o = run.options;
  const ops: Operation[] = [
    'create',
    'shell_exec',
    'file_write',
    'file_read',
    'file_search',
    'shell_start',
    'shell_read',
  ];
  const latency = Object.fromEntries(ops.map((op) => [op, summarize(rec.samples.get(op) ?? [])])) as Record<
    Operation,
    Stat
  >;
  const all = summarize(ops.filter((op) => op !== 'create').flatMap((op) => rec.samples.get(op) ?? []));
  const total = rec.succeeded + rec.failed;
  const successRate = total ? rec.succeeded / total : 0;
  const checks = thresholds(o, latency.create, latency.shell_exec, successRate);
  const { before, peak, after, exitCode } = samples;
  return {
    target: { url: target.url, startedHere: target.startedHere, provider, samples: target.sampleSource },
    settings: { sessions: o.sessions, concurrency: o.concurrency, durationS: o.durationS, calls: o.calls },
    elapsedMs: Math.round(elapsedMs),
    calls: { total, ok: rec.succeeded, failed: rec.failed },
    throughputPerS: Math.round((all.n / (elapsedMs / 1000)) * 10) / 10,
    successRate: Math.round(successRate * 10_000) / 10_000,
    latencyMs: { all, ...latency },
    server: {
      before,
      peak,
      after,
      growth: { rssBytes: diff(before.rssBytes, after.rssBytes), openFds: diff(before.openFds, after.openFds) },
      ...(target.startedHere ? { exitCode } : {}),
    },
    thresholds: checks,
    pass: checks.every((t) => t.pass),
    errors: [...rec.errors]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([message, count]) => ({ message, count })),
  };
}

const mib = (bytes: number | null) => (bytes === null ? 'unknown' : `${(bytes / 1048576).toFixed(1)} MiB`);
const num = (n: number | null) => (n === null ? 'unknown' : String(n));

/** The human summary (stderr): figures, the server before/after, and one PASS/FAIL line per threshold. */
export function stressSummary(stressResult: StressResult): string {
  const row = (name: string, stat: Stat) =>
    `  ${name.padEnd(12)} n=${String(stat.n).padEnd(5)} p50 ${stat.p50}  p95 ${stat.p95}  p99 ${stat.p99}  max ${stat.max}`;
  const s = stressResult.server;
  return [
    `stress: ${stressResult.settings.sessions} sessions x ${stressResult.settings.concurrency} concurrent calls against ${stressResult.target.url} (${stressResult.target.provider ?? 'unknown provider'})`,
    `  ${stressResult.calls.total} calls in ${(stressResult.elapsedMs / 1000).toFixed(1)} s: ${stressResult.throughputPerS} calls/s, ${stressResult.calls.failed} failed, success ${(stressResult.successRate * 100).toFixed(2)} %`,
    'latency (ms):',
    ...Object.entries(stressResult.latencyMs).map(([op, stat]) => row(op, stat)),
    `server (${stressResult.target.samples}): RSS ${mib(s.before.rssBytes)} -> ${mib(s.after.rssBytes)} (peak ${mib(s.peak.rssBytes)}), fds ${num(s.before.openFds)} -> ${num(s.after.openFds)} (peak ${num(s.peak.openFds)})${s.exitCode !== undefined ? `, exit ${s.exitCode} after SIGTERM` : ''}`,
    ...stressResult.thresholds.map(
      (t) => `${t.pass ? 'PASS' : 'FAIL'} ${t.name}: ${t.value} vs limit ${t.limit} (${t.margin})`,
    ),
    ...stressResult.errors.slice(0, 5).map((e) => `error x${e.count}: ${e.message}`),
  ].join('\n');
}
