import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { DOCKER_IMAGE, dockerEnv, dockerSkip, managedContainers } from './docker-env.js';
import { call, text, waitFor, type HttpServer, type ToolCaller } from './helpers.js';
import { modernHttpClient } from './modern-helpers.js';
import { roundRobinProxy, startReplicas } from './replica-helpers.js';

/**
 * Stateless replicas on docker (README "Scaling out"): two servers sharing one Docker engine and one
 * SANDBOX_HANDLE_KEY behind a round-robin proxy with no affinity. A process started through one
 * replica is read and killed through the other, a preview is served by a replica that never saw the
 * container, a replica's SIGTERM leaves the container to the other, and idle reaping is done by a
 * replica that did not create the container.
 */
if (dockerSkip) console.warn(`skipping docker replica tests: ${dockerSkip}`);

const token = 'replicas-docker-token-0123456789';
const auth = { Authorization: `Bearer ${token}` };
const key = randomBytes(32).toString('hex');
/** The label every container of this key's deployment carries (provider.ts: a digest of the key). */
const deployment = `sandbox-mcp.deployment=${createHash('sha256').update('sandbox-mcp deployment\0').update(key).digest('hex').slice(0, 16)}`;
const servers: HttpServer[] = [];
const strays: string[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const c of strays) execFileSync('docker', ['rm', '-f', c], { stdio: 'ignore' });
  // Handle containers outlive replicas by design: the test ends its own (and none may be left behind).
  for (const line of managedContainers(deployment)) execFileSync('docker', ['rm', '-f', '-v', line.split(' ')[0]!]);
});

const env = (extra: Record<string, string> = {}) =>
  dockerEnv('', { SANDBOX_MCP_AUTH_TOKEN: token, SANDBOX_HANDLE_KEY: key, SANDBOX_NETWORK: 'none', ...extra });

async function ok(client: ToolCaller, name: string, args: Record<string, unknown>) {
  const r = await call(client, name, args);
  expect(r.isError, `${name}: ${text(r)}`).toBeFalsy();
  return r.structuredContent!;
}

/** A GET of a preview address sent to one replica's port (as a wildcard DNS name would lead there). */
function previewGet(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/hello.txt', headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

const containersOf = () => managedContainers(deployment);

describe.skipIf(!!dockerSkip)('two docker replicas on one engine behind a round-robin proxy', () => {
  it('serve processes, previews and files from either replica, and a SIGTERM loses nothing', async () => {
    const replicas = await startReplicas(2, env());
    servers.push(...replicas);
    const proxy = await roundRobinProxy(replicas.map((r) => r.url));
    try {
      const { client } = await modernHttpClient(proxy.url, auth);
      const { sandbox } = (await ok(client, 'sandbox_create', {})) as { sandbox: string };
      await ok(client, 'file_write', { sandbox, path: 'hello.txt', content: 'served by any replica\n' });
      const { processId } = (await ok(client, 'shell_start', {
        sandbox,
        command: 'echo started; exec python3 -m http.server 8000 --bind 127.0.0.1',
      })) as { processId: string };
      const first = await ok(client, 'shell_read', { sandbox, processId, wait_s: 15, until: 'started' });
      expect(first.output).toContain('started');
      const routed = proxy.routed.filter((r) => r.name);
      const created = routed.find((r) => r.name === 'sandbox_create')!.backend;
      const start = routed.find((r) => r.name === 'shell_start')!.backend;
      expect(routed.find((r) => r.name === 'shell_read')!.backend).not.toBe(start);
      const listed = (await ok(client, 'shell_list', { sandbox })).processes as { processId: string }[];
      expect(listed.map((p) => p.processId)).toContain(processId);

      // The preview URL names the sandbox; the replica that did not create the container serves it.
      const { url } = (await ok(client, 'expose_port', { sandbox, port: 8000 })) as { url: string };
      const host = new URL(url).host.replace(/:\d+$/, '');
      const other = replicas[1 - created]!;
      const page = await previewGet(other.port, host);
      expect(page).toEqual({ status: 200, body: 'served by any replica\n' });
      // Only this deployment's handle containers: a container with our labels but no handle is not reached.
      const foreign = randomBytes(16).toString('hex');
      const stray = `sbx-replica-stray-${foreign.slice(0, 8)}`;
      strays.push(stray);
      execFileSync('docker', [
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        stray,
        '--label',
        'sandbox-mcp.managed=1',
        '--label',
        `sandbox-mcp.id=${foreign}`,
        '--entrypoint',
        'sleep',
        DOCKER_IMAGE,
        '120',
      ]);
      expect((await previewGet(other.port, `8000-${foreign}.localhost`)).status).toBe(404);
      expect((await previewGet(other.port, `8000-${'f'.repeat(32)}.localhost`)).status).toBe(404);

      // A rolling deploy stops the replica that started the process: the container and the process stay.
      expect(await replicas[start]!.stop('SIGTERM')).toBe(0);
      expect(containersOf()).toHaveLength(1);
      expect((await ok(client, 'file_read', { sandbox, path: 'hello.txt' })).content).toBe('served by any replica\n');
      const all = await ok(client, 'shell_read', { sandbox, processId, cursor: 0 });
      expect(all.running).toBe(true);
      expect(all.output).toMatch(/^started\n/);
      // Its stdin was the stopped replica's exec stream: refused with what to do instead.
      const write = await call(client, 'shell_write', { sandbox, processId, input: 'x\n' });
      expect(write.isError).toBe(true);
      expect(text(write)).toMatch(/another server replica.*here-document/s);
      await ok(client, 'shell_kill', { sandbox, processId, signal: 'SIGTERM' });
      const after = await ok(client, 'shell_read', { sandbox, processId, cursor: all.cursor, wait_s: 10 });
      expect(after).toMatchObject({ running: false, signal: 'SIGTERM' });
      expect(
        (await ok(client, 'shell_exec', { sandbox, command: "pgrep -f 'http[.]server' || echo none" })).stdout,
      ).toBe('none\n');
      await ok(client, 'sandbox_delete', { sandbox });
      expect(containersOf()).toEqual([]);
    } finally {
      await proxy.close();
    }
  }, 180_000);

  it('reaps an idle handle container from a replica that did not create it, never one in use', async () => {
    const [creator, survivor] = await startReplicas(2, env({ SANDBOX_IDLE_TIMEOUT: '3' }));
    servers.push(creator!, survivor!);
    const a = await modernHttpClient(creator!.url, auth);
    const { sandbox } = (await ok(a.client, 'sandbox_create', {})) as { sandbox: string };
    await ok(a.client, 'file_write', { sandbox, path: 'kept.txt', content: 'x' });
    expect(await creator!.stop('SIGTERM')).toBe(0);
    expect(containersOf()).toHaveLength(1);

    const b = await modernHttpClient(survivor!.url, auth);
    // The sandbox cannot keep itself alive: the last-use mark is not its to touch.
    const touch = await ok(b.client, 'shell_exec', {
      sandbox,
      command: 'test -d /tmp/.sandbox-mcp-use && touch /tmp/.sandbox-mcp-use/last',
    });
    expect(touch).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/Permission denied/) as unknown });
    // Used through the other replica for twice the idle timeout: never reaped meanwhile.
    for (let i = 0; i < 7; i++) {
      expect((await ok(b.client, 'file_read', { sandbox, path: 'kept.txt' })).content).toBe('x');
      await new Promise((r) => setTimeout(r, 1000));
    }
    // Nor by holding its whole process limit, so that no exec (the reaper's read of the mark) can start.
    await ok(b.client, 'shell_start', { sandbox, command: 'while :; do sleep 600 & done' });
    // Removed by the survivor's reaper (its log line follows the engine's removal by a moment).
    const reaped = () => /reaped an idle handle container/.test(survivor!.logs.join('\n'));
    await waitFor(() => !containersOf().length && reaped(), 30_000);
    expect(containersOf()).toEqual([]);
    const r = await call(b.client, 'file_read', { sandbox, path: 'kept.txt' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/sandbox_create/);
  }, 120_000);
});
