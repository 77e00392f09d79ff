import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { DaytonaProvider } from '../src/providers/daytona/provider.js';
import { E2BProvider } from '../src/providers/e2b/provider.js';
import type { Sandbox, SandboxProvider } from '../src/providers/types.js';
import { FakeDaytona } from './fakes/daytona.js';
import { FakeE2B } from './fakes/e2b.js';
import { hostProcessesWith, tempDir, waitFor } from './helpers.js';

/**
 * What the cloud adapters add beyond the shared contract, with the real SDKs against the fakes:
 * preview URLs, lifetime renewal, reattaching after a restart, a sandbox that dies under us, and
 * process trees that really die (the fakes run real processes on this machine, so we can look).
 */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(env: Record<string, string>) {
  const { dir } = tempDir('sbx-cloudp-');
  dirs.push(dir);
  return loadConfig({}, { SANDBOX_STATE_DIR: dir, ...env });
}

const marker = () => 3000 + Math.floor(Math.random() * 5000);

describe('e2b adapter details', () => {
  let fake: FakeE2B;
  let env: Record<string, string>;
  let provider: SandboxProvider;
  let sb: Sandbox;
  beforeAll(async () => {
    fake = await new FakeE2B().start();
    env = {
      SANDBOX_PROVIDER: 'e2b',
      E2B_API_KEY: fake.apiKey,
      E2B_API_URL: fake.url,
      E2B_SANDBOX_URL: fake.url,
      E2B_DOMAIN: 'sandbox.example.test',
    };
    provider = await E2BProvider.start(config(env), createLogger('silent'));
    sb = await provider.create({ labels: { session: 's1' }, timeoutMs: 60_000 });
  });
  afterAll(async () => {
    await provider?.shutdown();
    await fake?.stop();
  });

  it('portUrl is the E2B host of the port, over https', async () => {
    expect(await sb.portUrl(3000)).toEqual({ url: `https://3000-${sb.id}.sandbox.example.test` });
    await expect(sb.portUrl(0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('keepAlive renews the E2B timeout', async () => {
    await sb.keepAlive(123_000);
    expect(fake.sandboxes.get(sb.id)!.timeoutS).toBe(123);
  });

  it('closing stdin ends a reader; exec streams output through onOutput', async () => {
    const p = await sb.processes.spawn('cat; echo done', {});
    await sb.processes.write(p.processId, 'line\n', true);
    const r = await sb.processes.read(p.processId, { waitMs: 10_000, until: 'done', maxBytes: 1 << 20 });
    expect(r.output).toBe('line\ndone\n');
    const chunks: string[] = [];
    await sb.exec('echo a; echo b >&2', { timeoutMs: 10_000, onOutput: (c) => chunks.push(`${c.stream}:${c.data}`) });
    expect(chunks.sort()).toEqual(['stderr:b\n', 'stdout:a\n']);
  });

  it('killing a background process kills its whole tree, and so does an exec timeout', async () => {
    const n = marker();
    const p = await sb.processes.spawn(`sleep ${n}1 & sleep ${n}2; echo never`, {});
    await waitFor(async () => (await hostProcessesWith(`sleep ${n}1`)).length > 0);
    await sb.processes.kill(p.processId, 'SIGKILL');
    await waitFor(async () => (await hostProcessesWith(`sleep ${n}`)).length === 0, 10_000);
    const r = await sb.exec(`sleep ${n}3 & sleep ${n}4`, { timeoutMs: 800 });
    expect(r.timedOut).toBe(true);
    await waitFor(async () => (await hostProcessesWith(`sleep ${n}`)).length === 0, 10_000);
  });

  it('a restarted server reattaches to a sandbox by id and finds its files', async () => {
    await sb.files.write('kept.txt', Buffer.from('still here'));
    const other = await E2BProvider.start(config(env), createLogger('silent'));
    const again = await other.connect(sb.id);
    expect(again.workdir).toBe(sb.workdir);
    expect((await again.files.read('kept.txt')).data.toString()).toBe('still here');
    await other.shutdown();
  });

  it('a sandbox that dies under us (E2B timeout) is reported as SANDBOX_GONE, then isAlive is false', async () => {
    const victim = await provider.create({ labels: { session: 's2' }, timeoutMs: 60_000 });
    await fetch(`${fake.url}/sandboxes/${victim.id}`, { method: 'DELETE', headers: { 'x-api-key': fake.apiKey } });
    await expect(victim.exec('true', { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'SANDBOX_GONE' });
    expect(victim.isAlive()).toBe(false);
  });
});

describe('e2b lifetime (E2B_TIMEOUT renewed on activity)', () => {
  let fake: FakeE2B;
  let provider: SandboxProvider;
  beforeAll(async () => {
    fake = await new FakeE2B().start();
    provider = await E2BProvider.start(
      config({
        SANDBOX_PROVIDER: 'e2b',
        E2B_API_KEY: fake.apiKey,
        E2B_API_URL: fake.url,
        E2B_SANDBOX_URL: fake.url,
        E2B_TIMEOUT: '10',
      }),
      createLogger('silent'),
    );
  });
  afterAll(async () => {
    await provider?.shutdown();
    await fake?.stop();
  });

  it('a command longer than the lifetime keeps its sandbox alive; an idle sandbox expires and says so', async () => {
    const sb = await provider.create({ labels: { session: 'life' }, timeoutMs: 60_000 });
    expect(fake.sandboxes.get(sb.id)!.timeoutS).toBe(10);
    const r = await sb.exec('sleep 13; echo still', { timeoutMs: 30_000 });
    expect(r.stdout).toBe('still\n');
    expect((await sb.exec('echo next', { timeoutMs: 10_000 })).stdout).toBe('next\n');
    // Idle: nothing renews it, E2B (the fake) ends it, and the adapter knows without asking.
    await waitFor(() => !sb.isAlive(), 20_000, 250);
    await expect(sb.exec('true', { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'SANDBOX_GONE' });
  }, 60_000);
});

describe('daytona adapter details', () => {
  let fake: FakeDaytona;
  let env: Record<string, string>;
  let provider: SandboxProvider;
  let sb: Sandbox;
  beforeAll(async () => {
    fake = await new FakeDaytona().start();
    env = { SANDBOX_PROVIDER: 'daytona', DAYTONA_API_KEY: fake.apiKey, DAYTONA_SERVER_URL: fake.url };
    provider = await DaytonaProvider.start(config(env), createLogger('silent'));
    sb = await provider.create({ labels: { session: 's1' }, timeoutMs: 60_000 });
  });
  afterAll(async () => {
    await provider?.shutdown();
    await fake?.stop();
  });

  it('portUrl is the preview link, with its token as the x-daytona-preview-token header', async () => {
    expect(await sb.portUrl(5173)).toEqual({
      url: `https://5173-${sb.id}.proxy.daytona.fake`,
      headers: { 'x-daytona-preview-token': `preview-${sb.id}` },
    });
  });

  it('keepAlive refreshes the activity that Daytona auto-stop counts from', async () => {
    const before = fake.activity;
    await sb.keepAlive(60_000);
    expect(fake.activity).toBe(before + 1);
  });

  it('closing stdin is refused with a clear UNSUPPORTED (Daytona has no such call)', async () => {
    const p = await sb.processes.spawn('read x; echo "x=$x"', {});
    await sb.processes.write(p.processId, 'v\n', false);
    expect((await sb.processes.read(p.processId, { waitMs: 10_000, until: 'x=v', maxBytes: 1 << 20 })).output).toBe(
      'x=v\n',
    );
    const q = await sb.processes.spawn('sleep 5', {});
    await expect(sb.processes.write(q.processId, '', true)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });

  it('writes a file given as a Buffer (not taken as a local path), atomically, keeping its mode', async () => {
    await sb.exec('printf old > m.sh; chmod 755 m.sh', { timeoutMs: 10_000 });
    const st = await sb.files.write('m.sh', Buffer.from('/etc/passwd'));
    expect(st).toMatchObject({ type: 'file', size: 11, mode: 0o755 });
    expect((await sb.exec('cat m.sh', { timeoutMs: 10_000 })).stdout).toBe('/etc/passwd');
    expect((await sb.exec('ls -a', { timeoutMs: 10_000 })).stdout).not.toContain('.tmp');
  });

  it('killing a background process kills its whole tree, and so does an exec timeout', async () => {
    const n = marker();
    const p = await sb.processes.spawn(`sleep ${n}1 & sleep ${n}2; echo never`, {});
    await waitFor(async () => (await hostProcessesWith(`sleep ${n}1`)).length > 0);
    await sb.processes.kill(p.processId, 'SIGKILL');
    await waitFor(async () => (await hostProcessesWith(`sleep ${n}`)).length === 0, 10_000);
    const r = await sb.exec(`sleep ${n}3 & sleep ${n}4`, { timeoutMs: 800 });
    expect(r).toMatchObject({ timedOut: true, exitCode: null });
    await waitFor(async () => (await hostProcessesWith(`sleep ${n}`)).length === 0, 10_000);
  });

  it('a restarted server reattaches to a sandbox by id and finds its files', async () => {
    await sb.files.write('kept.txt', Buffer.from('still here'));
    const other = await DaytonaProvider.start(config(env), createLogger('silent'));
    const again = await other.connect(sb.id);
    expect((await again.files.read('kept.txt')).data.toString()).toBe('still here');
    await other.shutdown();
  });
});
