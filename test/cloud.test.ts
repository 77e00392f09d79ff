import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import os from 'node:os';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { FakeDaytona } from './fakes/daytona.js';
import { FakeE2B } from './fakes/e2b.js';
import { call, sh, stdioClient, tempDir, text, waitFor } from './helpers.js';

/**
 * The built CLI with a cloud provider, driven by the MCP SDK client over stdio, against the local
 * fakes (the real vendor SDKs run inside the server): selection, tagging, retries, clear failures.
 */
let e2b: FakeE2B;
let daytona: FakeDaytona;
const clients: Client[] = [];
const states: ReturnType<typeof tempDir>[] = [];

beforeAll(async () => {
  e2b = await new FakeE2B().start();
  daytona = await new FakeDaytona().start();
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const s of states) s.cleanup();
  await e2b?.stop();
  await daytona?.stop();
});

async function serve(env: Record<string, string>) {
  const state = tempDir('sbx-cloud-');
  states.push(state);
  const c = await stdioClient({ SANDBOX_STATE_DIR: state.dir, ...env });
  clients.push(c.client);
  return { ...c, state: state.dir };
}

const e2bEnv = () => ({
  SANDBOX_PROVIDER: 'e2b',
  E2B_API_KEY: e2b.apiKey,
  E2B_API_URL: e2b.url,
  E2B_SANDBOX_URL: e2b.url,
});

function chosen(stderr: string[]): { provider?: string; reason?: string } | undefined {
  for (const line of stderr.join('').split('\n')) {
    try {
      const rec = JSON.parse(line) as { msg?: string; provider?: string; reason?: string };
      if (rec.msg === 'provider chosen') return rec;
    } catch {
      /* not JSON */
    }
  }
  return undefined;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('e2b provider end to end (built CLI, MCP client, fake E2B)', () => {
  it('runs shell_exec in an E2B sandbox tagged with server and session; sandbox_info says e2b and why', async () => {
    const { client, stderr } = await serve(e2bEnv());
    const before = e2b.sandboxes.size;
    const r = await sh(client, 'echo hello from e2b; echo oops >&2; exit 5');
    expect(r).toMatchObject({ exitCode: 5, stdout: 'hello from e2b\n', stderr: 'oops\n', timedOut: false });
    expect(e2b.sandboxes.size).toBe(before + 1);
    const created = [...e2b.sandboxes.values()].at(-1)!;
    expect(created.metadata).toMatchObject({
      'sandbox-mcp': '1',
      'sandbox-mcp-host': os.hostname(),
      session: expect.any(String),
      'sandbox-mcp-server': expect.any(String),
    });
    // The seed's lifetime: E2B_TIMEOUT (300 s) is always sent, never left to the SDK's default.
    expect(created.timeoutS).toBe(300);
    const info = await call(client, 'sandbox_info');
    expect(info.structuredContent).toMatchObject({
      provider: 'e2b',
      providerReason: 'SANDBOX_PROVIDER is set',
      id: created.id,
    });
    expect(chosen(stderr)).toMatchObject({ provider: 'e2b', reason: 'SANDBOX_PROVIDER is set' });
    const start = await call(client, 'shell_start', { command: 'echo ready; read line; echo got $line; sleep 30' });
    const processId = (start.structuredContent as { processId: string }).processId;
    const first = await call(client, 'shell_read', { processId, wait_s: 10, until: 'ready' });
    expect(text(first)).toContain('ready');
    await call(client, 'shell_write', { processId, input: 'abc\n' });
    const second = await call(client, 'shell_read', { processId, wait_s: 10, until: 'got abc' });
    expect(text(second)).toContain('got abc');
    await call(client, 'shell_kill', { processId, signal: 'SIGKILL' });
  });

  it('retries transient failures: 503 twice on create, then the call succeeds', async () => {
    const { client } = await serve(e2bEnv());
    const creates = () => e2b.http.seen.filter((s) => s === 'POST /v2/sandboxes').length;
    const before = creates();
    e2b.http.fail('POST', /^\/v2\/sandboxes$/, 503, 2);
    const r = await sh(client, 'echo survived');
    expect(r.stdout).toBe('survived\n');
    expect(creates() - before).toBe(3);
  });

  it('a bad key fails at once (no retries) with an isError that names E2B_API_KEY', async () => {
    const { client } = await serve({ ...e2bEnv(), E2B_API_KEY: 'e2b_wrong' });
    const creates = () => e2b.http.seen.filter((s) => s === 'POST /v2/sandboxes').length;
    const before = creates();
    const r = await call(client, 'shell_exec', { command: 'true' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/E2B.*credentials/);
    expect(text(r)).toContain('check E2B_API_KEY');
    expect(creates() - before).toBe(1);
    // Once the SDK is loaded, the refusal comes back as fast as one request: no backoff.
    const t0 = Date.now();
    expect((await call(client, 'shell_exec', { command: 'true' })).isError).toBe(true);
    expect(creates() - before).toBe(2);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a quota refusal is not retried and says so', async () => {
    const { client } = await serve(e2bEnv());
    const creates = () => e2b.http.seen.filter((s) => s === 'POST /v2/sandboxes').length;
    const before = creates();
    e2b.http.fail('POST', /^\/v2\/sandboxes$/, 429, 1, {
      code: 429,
      message: 'You have reached the maximum number of concurrent E2B sandboxes',
    });
    const r = await call(client, 'shell_exec', { command: 'true' });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('quota reached');
    expect(creates() - before).toBe(1);
  });

  it('an unreachable E2B fails the call within a bounded time, and the server keeps serving', async () => {
    const port = await closedPort();
    const { client } = await serve({ ...e2bEnv(), E2B_API_URL: `http://127.0.0.1:${port}` });
    const t0 = Date.now();
    const r = await call(client, 'shell_exec', { command: 'true' });
    const took = Date.now() - t0;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/cannot reach E2B/);
    expect(text(r)).toMatch(/gave up after 4 attempts/);
    expect(took).toBeLessThan(20_000);
    // Still serving: another request is answered, and the next tool call fails the same clear way.
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    expect((await call(client, 'sandbox_info')).isError).toBe(true);
  });

  it('an E2B that accepts connections but never answers is bounded by SANDBOX_CLOUD_REQUEST_TIMEOUT', async () => {
    const hang = createServer(() => undefined);
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (hang.address() as { port: number }).port;
      const { client } = await serve({
        ...e2bEnv(),
        E2B_API_URL: `http://127.0.0.1:${port}`,
        SANDBOX_CLOUD_REQUEST_TIMEOUT: '2',
      });
      const t0 = Date.now();
      const r = await call(client, 'shell_exec', { command: 'true' });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/E2B create sandbox: (E2B did not answer in time|cannot reach E2B)/);
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      hang.close();
    }
  });

  it('reaps, at start, sandboxes left by a server of this host and state dir that is gone', async () => {
    const state = tempDir('sbx-cloud-reap-');
    states.push(state);
    const key = createHash('sha256').update(state.dir).digest('hex').slice(0, 12);
    const labels = { 'sandbox-mcp': '1', 'sandbox-mcp-host': os.hostname(), 'sandbox-mcp-state': key };
    const orphan = await e2bCreate({ ...labels, 'sandbox-mcp-server': 'dead0000dead0000', session: 'old' });
    const foreign = await e2bCreate({
      ...labels,
      'sandbox-mcp-state': 'otherstate00',
      'sandbox-mcp-server': 'dead0000dead0000',
      session: 'old',
    });
    const { stderr } = await stdioClient({ ...e2bEnv(), SANDBOX_STATE_DIR: state.dir }).then((c) => {
      clients.push(c.client);
      return c;
    });
    // Reaping runs in the background after start-up, so a sick vendor never delays initialize.
    await waitFor(() => stderr.join('').includes('reaped orphaned E2B sandbox'), 15_000);
    expect(e2b.sandboxes.get(orphan)?.alive).toBe(false);
    expect(e2b.sandboxes.get(foreign)?.alive).toBe(true);
  });
});

async function e2bCreate(metadata: Record<string, string>): Promise<string> {
  const res = await fetch(`${e2b.url}/v2/sandboxes`, {
    method: 'POST',
    headers: { 'x-api-key': e2b.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ templateID: 'base', metadata, timeout: 300 }),
  });
  return ((await res.json()) as { sandboxID: string }).sandboxID;
}

describe('daytona provider end to end (built CLI, MCP client, fake Daytona)', () => {
  it('selected by DAYTONA_API_KEY alone: separate streams and exit code through sessions, labels on the sandbox', async () => {
    const { client, stderr } = await serve({ DAYTONA_API_KEY: daytona.apiKey, DAYTONA_API_URL: daytona.url });
    const r = await sh(client, 'echo out; echo err >&2; exit 7');
    expect(r).toMatchObject({ exitCode: 7, stdout: 'out\n', stderr: 'err\n' });
    expect(chosen(stderr)).toMatchObject({ provider: 'daytona', reason: 'DAYTONA_API_KEY is set' });
    const sb = [...daytona.sandboxes.values()].at(-1)!;
    expect(sb.labels).toMatchObject({ 'sandbox-mcp': '1', session: expect.any(String) });
  });

  it('a bad Daytona key is an immediate isError naming DAYTONA_API_KEY', async () => {
    const { client } = await serve({
      SANDBOX_PROVIDER: 'daytona',
      DAYTONA_API_KEY: 'wrong',
      DAYTONA_SERVER_URL: daytona.url,
    });
    const r = await call(client, 'shell_exec', { command: 'true' });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('check DAYTONA_API_KEY');
  });
});

describe('provider selection (the seed rules)', () => {
  const pick = (env: Record<string, string>) => {
    const c = loadConfig({}, { SANDBOX_STATE_DIR: '/tmp/x', ...env });
    return [c.provider, c.providerReason];
  };
  it('SANDBOX_PROVIDER wins; else E2B_API_KEY; else DAYTONA_API_KEY; else local', () => {
    expect(pick({ SANDBOX_PROVIDER: 'local', E2B_API_KEY: 'k', DAYTONA_API_KEY: 'd' })).toEqual([
      'local',
      'SANDBOX_PROVIDER is set',
    ]);
    expect(pick({ SANDBOX_PROVIDER: 'daytona', E2B_API_KEY: 'k', DAYTONA_API_KEY: 'd' })).toEqual([
      'daytona',
      'SANDBOX_PROVIDER is set',
    ]);
    expect(pick({ E2B_API_KEY: 'k', DAYTONA_API_KEY: 'd' })).toEqual(['e2b', 'E2B_API_KEY is set']);
    expect(pick({ DAYTONA_API_KEY: 'd' })).toEqual(['daytona', 'DAYTONA_API_KEY is set']);
    expect(pick({})[0]).toBe('local');
    // The seed's rollback: emptying E2B_API_KEY is enough to fall back to Daytona.
    expect(pick({ E2B_API_KEY: '', DAYTONA_API_KEY: 'd' })[0]).toBe('daytona');
  });
  it('reads the seed names and defaults, and DAYTONA_API_URL as an alias of DAYTONA_SERVER_URL', () => {
    const c = loadConfig({}, { SANDBOX_STATE_DIR: '/tmp/x', DAYTONA_API_URL: 'http://127.0.0.1:9/api' });
    expect(c).toMatchObject({
      e2bTimeoutS: 300,
      e2bMaxRetries: 3,
      e2bTemplate: 'base',
      daytonaTarget: 'us',
      daytonaApiUrl: 'http://127.0.0.1:9/api',
    });
    expect(
      loadConfig(
        {},
        { SANDBOX_STATE_DIR: '/tmp/x', DAYTONA_SERVER_URL: 'http://a.test/api', DAYTONA_API_URL: 'http://b.test/api' },
      ).daytonaApiUrl,
    ).toBe('http://a.test/api');
    expect(() => loadConfig({}, { SANDBOX_STATE_DIR: '/tmp/x', E2B_MAX_RETRIES: 'many' })).toThrow(/E2B_MAX_RETRIES/);
  });
  it('the server logs which provider it chose and why', async () => {
    const { stderr } = await serve({
      E2B_API_KEY: e2b.apiKey,
      E2B_API_URL: e2b.url,
      E2B_SANDBOX_URL: e2b.url,
      DAYTONA_API_KEY: 'd',
    });
    expect(chosen(stderr)).toMatchObject({ provider: 'e2b', reason: 'E2B_API_KEY is set' });
  });
});

describe('an unreachable Daytona', () => {
  it('fails the call within a bounded time with a clear message, and the server keeps serving', async () => {
    const port = await closedPort();
    const { client } = await serve({
      SANDBOX_PROVIDER: 'daytona',
      DAYTONA_API_KEY: 'k',
      DAYTONA_SERVER_URL: `http://127.0.0.1:${port}/api`,
    });
    const t0 = Date.now();
    const r = await call(client, 'shell_exec', { command: 'true' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/cannot reach Daytona/);
    expect(text(r)).toContain('DAYTONA_SERVER_URL');
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  });
});
