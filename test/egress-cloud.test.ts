import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { DaytonaProvider } from '../src/providers/daytona/provider.js';
import { E2BProvider } from '../src/providers/e2b/provider.js';
import { FakeDaytona } from './fakes/daytona.js';
import { FakeE2B } from './fakes/e2b.js';
import { call, stdioClient, tempDir } from './helpers.js';

/**
 * SANDBOX_NETWORK and SANDBOX_EGRESS_ALLOW on the cloud providers: the real vendor SDKs against the
 * fakes, asserting what the create request carries, and what sandbox_info and the log say is only
 * approximated. The E2B API spells allowInternetAccess allow_internet_access on the wire.
 */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(env: Record<string, string>) {
  const { dir } = tempDir('sbx-egress-cloud-');
  dirs.push(dir);
  return loadConfig({}, { SANDBOX_STATE_DIR: dir, ...env });
}

const PRIVATE_V4 = expect.arrayContaining(['10.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '192.168.0.0/16']);

describe('E2B network mapping', () => {
  let fake: FakeE2B;
  const env = () => ({
    SANDBOX_PROVIDER: 'e2b',
    E2B_API_KEY: fake.apiKey,
    E2B_API_URL: fake.url,
    E2B_SANDBOX_URL: fake.url,
    E2B_DOMAIN: 'sandbox.example.test',
  });
  beforeAll(async () => {
    fake = await new FakeE2B().start();
  });
  afterAll(async () => {
    await fake?.stop();
  });

  async function created(extra: Record<string, string>) {
    const provider = await E2BProvider.start(config({ ...env(), ...extra }), createLogger('silent'));
    try {
      const sb = await provider.create({ labels: { session: 's1' }, timeoutMs: 60_000 });
      return { request: fake.sandboxes.get(sb.id)!.created, description: provider.describe() };
    } finally {
      await provider.shutdown();
    }
  }

  it('none (the default) turns internet access off', async () => {
    const { request, description } = await created({});
    expect(request).toMatchObject({ allow_internet_access: false });
    expect(request.network).toBeUndefined();
    expect(description.network).toMatch(/^none/);
    expect(description.warnings).toEqual([]);
  });

  it('egress with names: network.allowOut the names over a denyOut of everything, and says what is approximated', async () => {
    const { request, description } = await created({
      SANDBOX_NETWORK: 'egress',
      SANDBOX_EGRESS_ALLOW: 'registry.example.test,*.pkg.example.test',
    });
    expect(request).toMatchObject({
      allow_internet_access: true,
      network: { allowOut: ['registry.example.test', '*.pkg.example.test'], denyOut: ['0.0.0.0/0'] },
    });
    expect(description.network).toContain('registry.example.test, *.pkg.example.test');
    expect(description.warnings.join('\n')).toMatch(/approximated.*no per-sandbox byte counters/s);
  });

  it('egress with * allows any host but denies the private IPv4 ranges', async () => {
    const { request } = await created({ SANDBOX_NETWORK: 'egress', SANDBOX_EGRESS_ALLOW: '*' });
    expect(request).toMatchObject({ allow_internet_access: true, network: { denyOut: PRIVATE_V4 } });
    expect((request.network as { allowOut?: unknown }).allowOut).toBeUndefined();
  });

  it('host is E2B internet access, with a warning', async () => {
    const { request, description } = await created({ SANDBOX_NETWORK: 'host' });
    expect(request).toMatchObject({ allow_internet_access: true });
    expect(description.warnings.join('\n')).toContain('unrestricted internet');
  });

  it('over the CLI: the approximation is logged at start and sandbox_info names the mapped rules', async () => {
    const state = tempDir('sbx-egress-cloud-');
    dirs.push(state.dir);
    const { client, stderr } = await stdioClient({
      ...env(),
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_NETWORK: 'egress',
      SANDBOX_EGRESS_ALLOW: 'registry.example.test',
    });
    try {
      const info = await call(client, 'sandbox_info');
      expect(info.structuredContent).toMatchObject({
        network: expect.stringContaining('E2B network rules allow only registry.example.test'),
      });
      // No proxy of ours runs for a cloud sandbox: no egress counters either.
      expect(info.structuredContent!.egress).toBeUndefined();
      const warned = stderr
        .join('')
        .split('\n')
        .filter((l) => l.includes('"level":"warn"'));
      expect(warned.join('\n')).toMatch(/SANDBOX_NETWORK=egress on E2B approximated/);
      const request = [...fake.sandboxes.values()].at(-1)!.created;
      expect(request).toMatchObject({ network: { allowOut: ['registry.example.test'] } });
    } finally {
      await client.close();
    }
  });
});

describe('Daytona network mapping', () => {
  let fake: FakeDaytona;
  const env = () => ({ SANDBOX_PROVIDER: 'daytona', DAYTONA_API_KEY: fake.apiKey, DAYTONA_API_URL: fake.url });
  beforeAll(async () => {
    fake = await new FakeDaytona().start();
  });
  afterAll(async () => {
    await fake?.stop();
  });

  async function created(extra: Record<string, string>) {
    const provider = await DaytonaProvider.start(config({ ...env(), ...extra }), createLogger('silent'));
    try {
      const sb = await provider.create({ labels: { session: 's1' }, timeoutMs: 60_000 });
      return { request: fake.sandboxes.get(sb.id)!.created, description: provider.describe() };
    } finally {
      await provider.shutdown();
    }
  }

  it('none (the default) blocks all network', async () => {
    const { request, description } = await created({});
    expect(request).toMatchObject({ networkBlockAll: true });
    expect(description.network).toMatch(/^none/);
  });

  it('egress with host names cannot be mapped (CIDRs only): no network, and a warning that says so', async () => {
    const { request, description } = await created({
      SANDBOX_NETWORK: 'egress',
      SANDBOX_EGRESS_ALLOW: 'registry.example.test',
    });
    expect(request).toMatchObject({ networkBlockAll: true });
    expect(request.networkAllowList).toBeUndefined();
    expect(description.warnings.join('\n')).toMatch(
      /cannot allow host names \(registry\.example\.test\): networkAllowList takes IPv4 CIDRs only.*SANDBOX_EGRESS_ALLOW=\*/s,
    );
  });

  it('egress with IPv4 addresses maps them to networkAllowList CIDRs', async () => {
    const { request, description } = await created({
      SANDBOX_NETWORK: 'egress',
      SANDBOX_EGRESS_ALLOW: '203.0.113.80,registry.example.test',
    });
    expect(request).toMatchObject({ networkAllowList: '203.0.113.80/32' });
    expect(request.networkBlockAll).toBeUndefined();
    expect(description.warnings.join('\n')).toMatch(/only the listed addresses are reachable/);
  });

  it('egress with * and host leave the network to the organisation, with a warning', async () => {
    const cases: Record<string, string>[] = [
      { SANDBOX_NETWORK: 'egress', SANDBOX_EGRESS_ALLOW: '*' },
      { SANDBOX_NETWORK: 'host' },
    ];
    for (const extra of cases) {
      const { request, description } = await created(extra);
      expect(request).toMatchObject({ networkBlockAll: false });
      expect(description.warnings.length).toBeGreaterThan(1);
    }
  });
});
