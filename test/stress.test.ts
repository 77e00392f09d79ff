import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, startHttpServer, tempDir } from './helpers.js';

interface Sample {
  rssBytes: number | null;
  openFds: number | null;
}
interface StressJson {
  target: { url: string; startedHere: boolean; provider: string | null; samples: string };
  settings: { sessions: number; concurrency: number; durationS: number; calls: number };
  elapsedMs: number;
  calls: { total: number; ok: number; failed: number };
  throughputPerS: number;
  successRate: number;
  latencyMs: Record<string, { n: number; p50: number; p95: number; p99: number; max: number }>;
  server: { before: Sample; peak: Sample; after: Sample; growth: Sample; exitCode?: number | null };
  thresholds: { name: string; value: number; limit: number; pass: boolean; margin: string }[];
  pass: boolean;
  errors: { message: string; count: number }[];
}

/** The built CLI, asynchronously (a server it starts must not be blocked by a synchronous wait). */
function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SANDBOX_WARM_POOL: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const SMALL = ['--sessions', '3', '--concurrency', '3'];

function expectPassLines(stderr: string): void {
  expect(stderr).toMatch(/^PASS sandbox creation p95 \(ms\): [\d.]+ vs limit 30000 \([\d.]+x inside\)$/m);
  expect(stderr).toMatch(/^PASS command execution p95 \(ms\): [\d.]+ vs limit 5000 \([\d.]+x inside\)$/m);
  expect(stderr).toMatch(/^PASS success rate \(%\): [\d.]+ vs limit 95 \([\d.]+ points inside\)$/m);
}

describe('sandbox-mcp bench --stress', () => {
  it('loads a server it starts itself within the call budget, reports every figure, and stops it cleanly', async () => {
    const state = tempDir();
    try {
      const r = await runCli(['bench', '--stress', ...SMALL, '--calls', '60', '--duration', '120'], {
        SANDBOX_STATE_DIR: state.dir,
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as StressJson;
      expect(out.target).toMatchObject({ startedHere: true, provider: 'local', samples: 'proc' });
      expect(out.target.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
      expect(out.settings).toMatchObject({ sessions: 3, concurrency: 3, calls: 60 });
      // The count bound: 3 creations plus at most 60 calls, all of them answered correctly.
      expect(out.calls.total).toBeLessThanOrEqual(63);
      expect(out.calls.total).toBeGreaterThan(30);
      expect(out.calls.failed).toBe(0);
      expect(out.successRate).toBe(1);
      expect(out.latencyMs.create!.n).toBe(3);
      for (const op of ['shell_exec', 'file_write', 'file_read', 'file_search'])
        expect(out.latencyMs[op]!.n, `${op} calls`).toBeGreaterThan(0);
      const all = out.latencyMs.all!;
      expect(all.p50).toBeLessThanOrEqual(all.p95);
      expect(all.p95).toBeLessThanOrEqual(all.p99);
      expect(out.throughputPerS).toBeGreaterThan(0);
      for (const s of [out.server.before, out.server.peak, out.server.after]) {
        expect(s.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
        expect(s.openFds).toBeGreaterThan(3);
      }
      expect(out.server.peak.openFds).toBeGreaterThanOrEqual(out.server.before.openFds!);
      expect(out.server.growth.openFds).toBe(out.server.after.openFds! - out.server.before.openFds!);
      expect(out.server.exitCode).toBe(0);
      expect(out.thresholds.map((t) => t.pass)).toEqual([true, true, true]);
      expect(out.pass).toBe(true);
      expectPassLines(r.stderr);
      expect(r.stderr).toMatch(/^server \(proc\): RSS [\d.]+ MiB -> [\d.]+ MiB .*exit 0 after SIGTERM$/m);
    } finally {
      state.cleanup();
    }
  }, 120_000);

  it('loads the server --url names, with --token, for --duration seconds, reading its /metrics', async () => {
    const state = tempDir();
    const token = 'stress-token-0123456789';
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_MCP_AUTH_TOKEN: token });
    try {
      const r = await runCli(
        ['bench', '--stress', ...SMALL, '--duration', '3', '--url', server.url, '--token', token],
        {},
      );
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as StressJson;
      expect(out.target).toEqual({ url: server.url, startedHere: false, provider: 'local', samples: 'metrics' });
      // The time bound: the load stops at 3 s; calls in flight then may finish.
      expect(out.elapsedMs).toBeGreaterThanOrEqual(3000);
      expect(out.elapsedMs).toBeLessThan(3000 + out.latencyMs.all!.max + 2000);
      expect(out.calls.failed).toBe(0);
      expect(out.server.before.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
      expect(out.server.after.openFds).toBeGreaterThan(3);
      expect(out.server).not.toHaveProperty('exitCode');
      expectPassLines(r.stderr);
      // It leaves the server running, and every session it opened closed (their sandboxes gone).
      const health = (await (await fetch(new URL('/healthz', server.url))).json()) as Record<string, number>;
      expect(health).toMatchObject({ sessions: 0, sandboxes: 0 });
      expect(server.proc.exitCode).toBeNull();

      const refused = await runCli(
        ['bench', '--stress', '--sessions', '1', '--duration', '1', '--url', server.url],
        {},
      );
      expect(refused.status).toBe(1);
      const failed = JSON.parse(refused.stdout) as StressJson;
      expect(failed.pass).toBe(false);
      expect(failed.target.samples).toBe('unknown'); // /metrics wants the token too
      expect(failed.errors[0]!.message).toMatch(/^create: .*missing or wrong bearer token/);
      expect(refused.stderr).toMatch(/^FAIL success rate \(%\): 0 vs limit 95 \(95\.00 points short\)$/m);
    } finally {
      await server.stop();
      state.cleanup();
    }
  }, 120_000);

  it('exits non-zero, with a FAIL line, when a threshold is missed', async () => {
    const state = tempDir();
    try {
      const tight = await runCli(
        ['bench', '--stress', '--sessions', '1', '--concurrency', '1', '--calls', '4', '--max-exec-ms', '1'],
        { SANDBOX_STATE_DIR: state.dir },
      );
      expect(tight.status).toBe(1);
      expect(tight.stderr).toMatch(/^FAIL command execution p95 \(ms\): [\d.]+ vs limit 1 \([\d.]+x over\)$/m);
      expect(tight.stderr).toMatch(/^PASS success rate/m);
      expect((JSON.parse(tight.stdout) as StressJson).pass).toBe(false);
    } finally {
      state.cleanup();
    }
  }, 120_000);

  it('refuses bad flags with exit 2 and a message naming the flag', async () => {
    const zero = await runCli(['bench', '--stress', '--sessions', '0'], {});
    expect(zero.status).toBe(2);
    expect(zero.stderr).toMatch(/invalid --sessions for bench --stress: "0"/);
    const noStress = await runCli(['bench', '--sessions', '3'], {});
    expect(noStress.status).toBe(2);
    expect(noStress.stderr).toMatch(/unknown option --sessions \(stress test options need --stress\)/);
    const unknown = await runCli(['bench', '--stress', '--sesions', '3'], {});
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option --sesions/);
    const badUrl = await runCli(['bench', '--stress', '--url', 'ftp://example.test/'], {});
    expect(badUrl.status).toBe(2);
    expect(badUrl.stderr).toMatch(/invalid --url.*http:\/\/ or https:\/\//);
  });
});

describe('the stress client stays out of serve', () => {
  /** Modules dist/cli.js reaches through static imports alone (what `serve` loads before any dynamic import). */
  function staticImports(file: string, seen = new Set<string>()): Set<string> {
    if (seen.has(file)) return seen;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/^import\s[^;]*?from\s+'([^']+)';?$/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) staticImports(path.resolve(path.dirname(file), spec), seen);
      else seen.add(spec);
    }
    return seen;
  }

  it('loads @modelcontextprotocol/client only through bench --stress', () => {
    const fromCli = staticImports(CLI);
    expect(fromCli.has('@modelcontextprotocol/client')).toBe(false);
    const fromServe = staticImports(path.join(path.dirname(CLI), 'serve.js'));
    expect(fromServe.has('@modelcontextprotocol/client')).toBe(false);
    // The walk does find it where it is imported, so the checks above can fail.
    expect(staticImports(path.join(path.dirname(CLI), 'ops', 'stress.js')).has('@modelcontextprotocol/client')).toBe(
      true,
    );
  });
});
