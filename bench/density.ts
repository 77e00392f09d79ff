import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  compare,
  summarize,
  type BenchOptions,
  type BenchRunner,
  type Comparison,
  type Stat,
} from '../src/ops/stats.js';
import { densityMemory } from './density-memory.js';
import { openSession, shellExec, startServer, stopServer, timeOrFail, type HttpSession } from './http-sessions.js';

const BURST = 20;
const CALLS_PER_SESSION = 10;

/** A process run to its end; resolves with how long it took from `since`. */
function runFrom(since: number, file: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(performance.now() - since) : reject(new Error(`${file}: ${code}`)),
    );
  });
}

/** Every session of the bench comes from one address: the per-client connection cap would refuse them. */
const MANY_CLIENTS = { SANDBOX_MAX_SANDBOXES: '128', SANDBOX_MAX_CONNECTIONS_PER_CLIENT: '0' };

const BARE_BWRAP = ['--ro-bind', '/', '/', '--unshare-all', '--die-with-parent', 'true'];

interface Part {
  metrics: Record<string, Stat>;
  comparisons: Comparison[];
  notes: string[];
}

/** Each new session's first call minus its warm calls, with no pool; a bare bwrap after each as baseline. */
async function coldRounds(url: string, rounds: number, bwrap: number[]): Promise<number[]> {
  const creation: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const session = await openSession(url);
    const first = await timeOrFail(() => shellExec(session.client, 'true'));
    const warm: number[] = [];
    for (let call = 0; call < 5; call++) warm.push((await timeOrFail(() => shellExec(session.client, 'true'))) ?? NaN);
    await session.end();
    if (first !== undefined) creation.push(first - summarize(warm).p50);
    bwrap.push(await runFrom(performance.now(), 'bwrap', BARE_BWRAP));
  }
  return creation;
}

/** The uid a root bench also runs an unprivileged server as: the other common deployment. */
const UNPRIVILEGED_UID = 65534;

/**
 * Cold creation with no pool, as the server runs here and, when that is root (sandboxes then get a disk
 * image and a host uid of their own), as an unprivileged user too; a bare bwrap as baseline.
 */
async function coldCreation({ iterations, stateDir, log }: BenchOptions): Promise<Part> {
  const rounds = Math.max(15, iterations);
  const bwrap: number[] = [];
  const metrics: Record<string, Stat> = {};
  const comparisons: Comparison[] = [];
  const asRoot = process.getuid?.() === 0;
  const modes = asRoot ? (['root', 'unprivileged'] as const) : (['unprivileged'] as const);
  for (const mode of modes) {
    const user = mode === 'root' || !asRoot ? undefined : UNPRIVILEGED_UID;
    // The bench's state dir is root's alone: the unprivileged server gets a folder of its own.
    const dir = user === undefined ? stateDir : mkdtempSync(path.join(os.tmpdir(), 'sandbox-mcp-bench-cold-'));
    if (user !== undefined) chownSync(dir, user, user);
    const env = { SANDBOX_STATE_DIR: path.join(dir, 'state'), SANDBOX_WARM_POOL: '0' };
    const { proc, url } = await startServer(user === undefined ? env : { ...env, HOME: dir }, user);
    let creation: number[];
    try {
      creation = await coldRounds(url, rounds, bwrap);
    } finally {
      await stopServer(proc);
      if (dir !== stateDir) rmSync(dir, { recursive: true, force: true });
    }
    const ours = summarize(creation);
    const label = mode === 'root' ? 'server as root: disk image and host uid per sandbox' : 'unprivileged server';
    log(`cold creation (${label}) p50 ${ours.p50} ms`);
    metrics[`sandbox creation, cold (first call - warm call), ${label}`] = ours;
    comparisons.push(
      compare(
        `cold creation p50, ${label}`,
        ours.p50,
        'bare bwrap p50',
        summarize(bwrap).p50,
        'ours <= 50 ms',
        ours.p50 <= 50,
      ),
    );
  }
  metrics['bare bwrap ... true'] = summarize(bwrap);
  return { metrics, comparisons, notes: [] };
}

/** Opens `count` sessions at once and times each one's first call (which makes its sandbox). */
async function burst(
  url: string,
  count: number,
): Promise<{ sessions: HttpSession[]; first: number[]; errors: number }> {
  const sessions = await Promise.all(Array.from({ length: count }, () => openSession(url)));
  const first = await Promise.all(sessions.map((session) => timeOrFail(() => shellExec(session.client, 'true'))));
  const ok = first.filter((ms): ms is number => ms !== undefined);
  return { sessions, first: ok, errors: first.length - ok.length };
}

/** Waits until the server's warm pool has as many started sandboxes as it aims for (its /metrics). */
async function poolSettled(url: string): Promise<void> {
  const metricsUrl = new URL('/metrics', url);
  for (let attempt = 0; attempt < 100; attempt++) {
    const text = await fetch(metricsUrl).then((response) => response.text());
    const ready = Number(/^sandbox_mcp_warm_pool_ready (\d+)/m.exec(text)?.[1] ?? NaN);
    const target = Number(/^sandbox_mcp_warm_pool_target (\d+)/m.exec(text)?.[1] ?? NaN);
    if (ready >= target) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Bursts of new sessions against the default (adaptive) pool: the first burst finds the pool at its
 * floor and teaches it; the measured ones come after it refilled. Baseline: a warm call of the same
 * sessions, all at once.
 */
async function bursts({ stateDir, log }: BenchOptions): Promise<Part> {
  const { proc, url } = await startServer({ SANDBOX_STATE_DIR: stateDir, ...MANY_CLIENTS });
  const firstBurst: number[] = [];
  const measured: number[] = [];
  const warm: number[] = [];
  let errors = 0;
  try {
    for (let round = 0; round < 4; round++) {
      await poolSettled(url);
      const result = await burst(url, BURST);
      errors += result.errors;
      (round === 0 ? firstBurst : measured).push(...result.first);
      const again = await Promise.all(
        result.sessions.map((session) => timeOrFail(() => shellExec(session.client, 'true'))),
      );
      warm.push(...again.filter((ms): ms is number => ms !== undefined));
      await Promise.all(result.sessions.map((session) => session.end()));
      log(`burst ${round + 1}: first-call p95 ${summarize(result.first).p95} ms`);
    }
  } finally {
    await stopServer(proc);
  }
  // The machine's own floor: the same number of bare `bash -c true` started at once, no MCP, no sandbox.
  const host: number[] = [];
  for (let round = 0; round < 4; round++) {
    const since = performance.now();
    host.push(...(await Promise.all(Array.from({ length: BURST }, () => runFrom(since, 'bash', ['-c', 'true'])))));
  }
  const ours = summarize(measured);
  const base = summarize(warm);
  return {
    metrics: {
      [`first call of ${BURST} sessions at once, first burst (pool at its floor)`]: summarize(firstBurst),
      [`first call of ${BURST} sessions at once, later bursts (adapted pool)`]: ours,
      [`warm call of ${BURST} sessions at once`]: base,
      [`${BURST} host bash -c true started at once`]: summarize(host),
    },
    comparisons: [
      compare(
        'burst first-call p95',
        ours.p95,
        'warm call p95, same concurrency',
        base.p95,
        'ours <= 100 ms',
        ours.p95 <= 100,
      ),
    ],
    notes: [`burst errors: ${errors}`],
  };
}

/** 20 warm sessions × 10 concurrent `echo` calls against 200 concurrent host `bash -c echo` spawns. */
async function concurrency({ iterations, stateDir, log }: BenchOptions): Promise<Part> {
  const { proc, url } = await startServer({ SANDBOX_STATE_DIR: stateDir, ...MANY_CLIENTS });
  const ours: number[] = [];
  const host: number[] = [];
  let errors = 0;
  let firstError = '';
  try {
    const { sessions } = await burst(url, BURST);
    const rounds = Math.max(5, Math.round(iterations / 3));
    for (let round = 0; round < rounds; round++) {
      const since = performance.now();
      const calls = sessions.flatMap((session) =>
        Array.from({ length: CALLS_PER_SESSION }, async () => {
          const result = await session.client
            .callTool({ name: 'shell_exec', arguments: { command: 'echo hi' } })
            .catch((error: Error) => ({ thrown: error.message }));
          const stdout = (result as { structuredContent?: { stdout?: unknown } }).structuredContent?.stdout;
          if (stdout !== 'hi\n') {
            errors++;
            firstError ||= JSON.stringify(result);
          }
          return performance.now() - since;
        }),
      );
      ours.push(...(await Promise.all(calls)));
      const hostSince = performance.now();
      const spawns = Array.from({ length: BURST * CALLS_PER_SESSION }, () =>
        runFrom(hostSince, 'bash', ['-c', 'echo hi']),
      );
      host.push(...(await Promise.all(spawns)));
      log(`round ${round + 1}: ours p95 ${summarize(ours).p95} ms, host p95 ${summarize(host).p95} ms`);
    }
    await Promise.all(sessions.map((session) => session.end()));
  } finally {
    await stopServer(proc);
  }
  const mine = summarize(ours);
  const base = summarize(host);
  const total = BURST * CALLS_PER_SESSION;
  return {
    metrics: {
      [`${total} concurrent shell_exec echo (${BURST} sessions × ${CALLS_PER_SESSION}, HTTP)`]: mine,
      [`${total} concurrent host bash -c echo`]: base,
    },
    comparisons: [
      compare(
        'concurrent shell_exec p95',
        mine.p95,
        'host bash spawn p95',
        base.p95,
        'ours <= 1.5 × host, 0 errors',
        mine.p95 <= 1.5 * base.p95 && errors === 0,
      ),
    ],
    notes: [`concurrency errors: ${errors}${firstError ? ` (first: ${firstError.slice(0, 200)})` : ''}`],
  };
}

/**
 * Issue 14's density figures: cold creation, bursts of new sessions, concurrency near the machine's
 * limit, and the memory of 100 idle sandboxes, each beside a baseline of the same run.
 */
export const densityBench: BenchRunner = async (options) => {
  const parts: Part[] = [];
  const all = { cold: coldCreation, bursts, concurrency, memory: densityMemory };
  // BENCH_DENSITY_PARTS=cold,memory runs some of them (while working on one figure).
  const chosen = process.env.BENCH_DENSITY_PARTS?.split(',') ?? Object.keys(all);
  for (const [name, part] of Object.entries(all)) if (chosen.includes(name)) parts.push(await part(options));
  return {
    name: 'density',
    metrics: Object.assign({}, ...parts.map((part) => part.metrics)),
    comparisons: parts.flatMap((part) => part.comparisons),
    notes: parts.flatMap((part) => part.notes),
  };
};
