import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { call, CLI, httpClient, sh, startHttpServer, stdioClient, tempDir, text, waitFor } from './helpers.js';

function runCli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; type?: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
      })
      .on('error', reject);
  });
}

/** Prometheus text format: every sample line is `name{labels} value`; returns name+labels -> value. */
function parsePrometheus(body: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

describe('doctor', () => {
  it('passes on the local provider, timing each step, and never prints secrets', () => {
    const state = tempDir();
    const r = runCli(['doctor', '--json'], {
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_PROVIDER: 'local',
      E2B_API_KEY: 'e2b_supersecret_value',
    });
    state.cleanup();
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('supersecret');
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      config: { keys: Record<string, boolean>; reason: string };
      steps: { name: string; ok: boolean; ms: number }[];
    };
    expect(out.ok).toBe(true);
    expect(out.config.keys.E2B_API_KEY).toBe(true);
    expect(out.config.reason).toContain('SANDBOX_PROVIDER');
    expect(out.steps.map((s) => s.name)).toEqual([
      'start the local provider',
      'create a sandbox',
      'run echo',
      'mkdir -p, touch and ls',
      'write and read back a file',
      'destroy the sandbox',
    ]);
    for (const s of out.steps) expect(s.ms).toBeGreaterThanOrEqual(0);
  });

  it('fails clearly, with a non-zero exit, on a broken configuration', () => {
    const state = tempDir();
    const r = runCli(['doctor'], { SANDBOX_STATE_DIR: state.dir, SANDBOX_ISOLATION: 'bwrap', PATH: '/nonexistent' });
    state.cleanup();
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/✘ start the local provider.*bwrap/);
    expect(r.stdout).toContain('Some checks failed');
  });
});

describe('bench command', () => {
  it('reports every figure and the success rate as JSON', () => {
    const state = tempDir();
    const r = runCli(['bench', '--json', '--iterations', '3'], { SANDBOX_STATE_DIR: state.dir });
    state.cleanup();
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      successRate: number;
      operations: Record<string, { stats: Record<string, number>; successRate: number; attempts: number }>;
    };
    expect(Object.keys(out.operations)).toEqual(['create', 'exec', 'file']);
    for (const op of Object.values(out.operations)) {
      for (const k of ['min', 'p50', 'p95', 'max', 'stdev']) expect(op.stats[k]).toEqual(expect.any(Number));
      expect(op.attempts).toBe(3);
      expect(op.successRate).toBe(1);
    }
    expect(out.successRate).toBe(1);
  });
});

describe('metrics and client logging', () => {
  it('/metrics is Prometheus text whose counters move with tool calls, behind the token', async () => {
    const state = tempDir();
    const token = 'metrics-token-0123456789';
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_MCP_AUTH_TOKEN: token });
    try {
      expect((await get(server.port, '/metrics')).status).toBe(401);
      const auth = { Authorization: `Bearer ${token}` };
      const before = parsePrometheus((await get(server.port, '/metrics', auth)).body);
      expect(before.get('sandbox_mcp_sandboxes_active')).toBe(0);
      const { client } = await httpClient(server.url, auth);
      await sh(client, 'true');
      await sh(client, 'exit 3');
      await call(client, 'shell_read', { processId: 'nope' });
      const res = await get(server.port, '/metrics', auth);
      expect(res.type).toContain('text/plain');
      const after = parsePrometheus(res.body);
      expect(after.get('sandbox_mcp_tool_calls_total{tool="shell_exec",result="ok"}')).toBe(2);
      expect(after.get('sandbox_mcp_tool_calls_total{tool="shell_read",result="error"}')).toBe(1);
      expect(after.get('sandbox_mcp_sandbox_creations_total{result="ok"}')).toBe(1);
      expect(after.get('sandbox_mcp_sandboxes_active')).toBe(1);
      expect(after.get('sandbox_mcp_command_duration_seconds_count{outcome="nonzero"}')).toBe(1);
      expect(after.get('sandbox_mcp_sandbox_creation_seconds_count')).toBe(1);
      await client.close();
    } finally {
      await server.stop();
      state.cleanup();
    }
  });

  it('forwards warnings to the client through MCP logging when its sandbox dies', async () => {
    const state = tempDir();
    const { client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir });
    const messages: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      messages.push(`${n.params.level}: ${String(n.params.data)}`);
    });
    try {
      await sh(client, 'true');
      await call(client, 'shell_exec', { command: 'kill -9 -1' }); // kills every process of the sandbox user, its agent included
      const r = await call(client, 'shell_exec', { command: 'echo back' });
      expect(text(r)).toMatch(/ended unexpectedly.*fresh sandbox/);
      await waitFor(() => messages.some((m) => m.startsWith('warning: sandbox ended unexpectedly')), 5000);
    } finally {
      await client.close();
      state.cleanup();
    }
  });
});
