import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeE2B } from './fakes/e2b.js';
import { call, startHttpServer, text, type HttpServer, type ToolCaller } from './helpers.js';
import { modernHttpClient } from './modern-helpers.js';
import { HAPROXY_CONFIG, haproxyBinary, roundRobinProxy, startHaproxy, startReplicas } from './replica-helpers.js';

/**
 * Stateless replicas (README "Scaling out"): two servers with the same E2B settings (the real SDK
 * against the fake) and one SANDBOX_HANDLE_KEY, behind a load balancer with no affinity. A 2026-07-28
 * client's consecutive calls land on different replicas, and a replica stopped by SIGTERM (a rolling
 * deploy) takes nothing with it that the other cannot serve.
 */
let e2b: FakeE2B;
const token = 'replicas-token-0123456789';
const auth = { Authorization: `Bearer ${token}` };
const key = randomBytes(32).toString('hex');
const servers: HttpServer[] = [];

beforeAll(async () => {
  e2b = await new FakeE2B().start();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await e2b?.stop();
});

const env = () => ({
  SANDBOX_PROVIDER: 'e2b',
  E2B_API_KEY: e2b.apiKey,
  E2B_API_URL: e2b.url,
  E2B_SANDBOX_URL: e2b.url,
  SANDBOX_MCP_AUTH_TOKEN: token,
  SANDBOX_HANDLE_KEY: key,
  LOG_LEVEL: 'debug',
});

async function ok(client: ToolCaller, name: string, args: Record<string, unknown>) {
  const r = await call(client, name, args);
  expect(r.isError, `${name}: ${text(r)}`).toBeFalsy();
  return r.structuredContent!;
}

async function refused(client: ToolCaller, args: Record<string, unknown>, why: RegExp) {
  const r = await call(client, 'file_read', { path: 'notes.txt', ...args });
  expect(r.isError).toBe(true);
  expect(text(r)).toMatch(why);
  expect(text(r)).toMatch(/sandbox_create/);
}

/** Creates a sandbox, writes a file and starts a process reading stdin, through `url`. */
async function work(url: string) {
  const { client } = await modernHttpClient(url, auth);
  const { sandbox } = (await ok(client, 'sandbox_create', {})) as { sandbox: string };
  await ok(client, 'file_write', { sandbox, path: 'notes.txt', content: 'written through one replica\n' });
  const { processId } = (await ok(client, 'shell_start', {
    sandbox,
    command: 'echo started; read line; echo "got $line"; sleep 60',
  })) as { processId: string };
  const first = await ok(client, 'shell_read', { sandbox, processId, wait_s: 10, until: 'started' });
  expect(first.output).toContain('started');
  await ok(client, 'shell_write', { sandbox, processId, input: 'hello\n' });
  const second = await ok(client, 'shell_read', { sandbox, processId, cursor: first.cursor, wait_s: 10, until: 'got' });
  expect(second.output).toContain('got hello');
  return { client, sandbox, processId };
}

/** After the replica that started it went away: the file, the output and the handle are all still there. */
async function survives(client: ToolCaller, sandbox: string, processId: string) {
  expect((await ok(client, 'file_read', { sandbox, path: 'notes.txt' })).content).toMatch(/written through one/);
  const all = await ok(client, 'shell_read', { sandbox, processId, cursor: 0 });
  expect(all.output).toBe('started\ngot hello\n');
  expect(all.running).toBe(true);
  const listed = (await ok(client, 'shell_list', { sandbox })).processes as { processId: string }[];
  expect(listed.map((p) => p.processId)).toContain(processId);
  await ok(client, 'shell_kill', { sandbox, processId, signal: 'SIGKILL' });
  const after = await ok(client, 'shell_read', { sandbox, processId, cursor: all.cursor, wait_s: 5 });
  expect(after.running).toBe(false);
  expect(after.signal).toBe('SIGKILL');
  expect((await ok(client, 'shell_exec', { sandbox, command: 'cat notes.txt' })).stdout).toMatch(/written/);
}

describe('two replicas behind a round-robin proxy (E2B fake)', () => {
  it('serve one handle, its files and its processes from either replica, and lose nothing on SIGTERM', async () => {
    const replicas = await startReplicas(2, env());
    servers.push(...replicas);
    const proxy = await roundRobinProxy(replicas.map((r) => r.url));
    try {
      const { client, sandbox, processId } = await work(proxy.url);
      const tools = proxy.routed.filter((r) => r.name);
      expect(new Set(proxy.routed.map((r) => r.backend)).size).toBe(2);
      const start = tools.find((r) => r.name === 'shell_start')!;
      const read = tools.find((r) => r.name === 'shell_read')!;
      expect(start.backend).not.toBe(read.backend);
      // The handle is opaque: the E2B sandbox id (the capability behind preview URLs) is not in it.
      const [id] = [...e2b.sandboxes.keys()];
      expect(Buffer.from(sandbox.slice(4), 'base64url').toString('latin1')).not.toContain(id);
      expect(sandbox).not.toContain(id);

      // A rolling deploy stops the replica that started the process; its sandbox stays.
      expect(await replicas[start.backend]!.stop('SIGTERM')).toBe(0);
      expect(e2b.sandboxes.get(id!)!.alive).toBe(true);
      await survives(client, sandbox, processId);
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('refuses forged, deleted, vendor-expired, other-token and missing handles with a clear error on every replica', async () => {
    const replicas = await startReplicas(2, env());
    servers.push(...replicas);
    const [a, b] = await Promise.all(replicas.map((r) => modernHttpClient(r.url, auth)));
    const mine = ((await ok(a!.client, 'sandbox_create', {})) as { sandbox: string }).sandbox;
    await ok(b!.client, 'file_write', { sandbox: mine, path: 'notes.txt', content: 'mine\n' });

    // Another sandbox, made on B: it never sees the first one's files.
    const other = ((await ok(b!.client, 'sandbox_create', {})) as { sandbox: string }).sandbox;
    expect(other).not.toBe(mine);
    const elsewhere = await call(a!.client, 'file_read', { sandbox: other, path: 'notes.txt' });
    expect(elsewhere.isError).toBe(true);
    expect(text(elsewhere)).toMatch(/not_found|no such file/i);

    const raw = Buffer.from(mine.slice(4), 'base64url');
    raw[raw.length - 20]! ^= 0x01;
    for (const c of [a!, b!]) {
      await refused(c.client, { sandbox: `sbx-${raw.toString('base64url')}` }, /did not issue/);
      await refused(c.client, {}, /reaches no sandbox/);
    }

    // Deleted through A: B, which used it, and a fresh replica, which never did, both say it is gone.
    await ok(a!.client, 'sandbox_delete', { sandbox: other });
    await refused(a!.client, { sandbox: other }, /deleted with sandbox_delete/);
    await refused(b!.client, { sandbox: other }, /expired: the provider no longer has its sandbox/);

    // Ended by the vendor (its timeout): a replica that never saw the handle says so too.
    const before = new Set(e2b.sandboxes.keys());
    const third = ((await ok(a!.client, 'sandbox_create', {})) as { sandbox: string }).sandbox;
    const [thirdId] = [...e2b.sandboxes.keys()].filter((k) => !before.has(k));
    e2b.sandboxes.get(thirdId!)!.endAt = 0;
    await refused(b!.client, { sandbox: third }, /expired: the provider no longer has its sandbox/);

    // Same key, another bearer token: refused before anything is reached.
    const stranger = await startHttpServer({ ...env(), SANDBOX_MCP_AUTH_TOKEN: 'another-token-0123456789' });
    servers.push(stranger);
    const c = await modernHttpClient(stranger.url, { Authorization: 'Bearer another-token-0123456789' });
    await refused(c.client, { sandbox: mine }, /another bearer token/);
    // Another key: not ours.
    const foreign = await startHttpServer({ ...env(), SANDBOX_HANDLE_KEY: randomBytes(32).toString('hex') });
    servers.push(foreign);
    const f = await modernHttpClient(foreign.url, auth);
    await refused(f.client, { sandbox: mine }, /did not issue.*SANDBOX_HANDLE_KEY/s);

    expect((await ok(b!.client, 'file_read', { sandbox: mine, path: 'notes.txt' })).content).toMatch(/mine/);
  }, 120_000);
});

const haproxy = haproxyBinary();
describe.skipIf(!haproxy)('the README load balancer (deploy/haproxy.cfg) in front of two replicas', () => {
  it('spreads one client over both replicas and carries on when one stops', async () => {
    const replicas = await startReplicas(2, env());
    servers.push(...replicas);
    const lb = await startHaproxy(haproxy!, replicas);
    try {
      const { client, sandbox, processId } = await work(lb.url);
      const served = replicas.map((r) => r.logs.filter((l) => l.includes('"msg":"tool call"')).length);
      expect(served[0]).toBeGreaterThan(0);
      expect(served[1]).toBeGreaterThan(0);
      expect(await replicas[0]!.stop('SIGTERM')).toBe(0);
      await survives(client, sandbox, processId);
    } finally {
      await lb.stop();
    }
  }, 120_000);
});
if (!haproxy) console.warn('[replicas] haproxy test skipped: no haproxy binary (apt-get install -y haproxy)');

describe('deploy/k8s.yaml', () => {
  it('is a Deployment of several replicas sharing SANDBOX_HANDLE_KEY behind a Service with no affinity', async () => {
    const { parseAllDocuments } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const docs = parseAllDocuments(readFileSync(HAPROXY_CONFIG.replace('haproxy.cfg', 'k8s.yaml'), 'utf8')).map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a manifest
    });
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    const service = docs.find((d) => d.kind === 'Service')!;
    expect(deployment.apiVersion).toBe('apps/v1');
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    const pod = deployment.spec.template;
    expect(deployment.spec.selector.matchLabels).toEqual(pod.metadata.labels);
    const [container] = pod.spec.containers;
    const env = Object.fromEntries(
      (container.env as { name: string; value?: string; valueFrom?: { secretKeyRef: { key: string } } }[]).map((e) => [
        e.name,
        e,
      ]),
    );
    expect(['e2b', 'daytona', 'docker']).toContain(env.SANDBOX_PROVIDER.value);
    expect(env.SANDBOX_HANDLE_KEY.valueFrom?.secretKeyRef.key).toBeTruthy();
    expect(env.SANDBOX_MCP_AUTH_TOKEN.valueFrom?.secretKeyRef.key).toBeTruthy();
    expect(container.args).toEqual(expect.arrayContaining(['--port', '--host', '0.0.0.0']));
    const port = container.ports[0];
    expect(container.readinessProbe.httpGet.path).toBe('/healthz');
    expect(service.apiVersion).toBe('v1');
    expect(service.spec.selector).toEqual(pod.metadata.labels);
    expect(service.spec.sessionAffinity ?? 'None').toBe('None');
    expect([port.name, port.containerPort]).toContain(service.spec.ports[0].targetPort);
  });
});
