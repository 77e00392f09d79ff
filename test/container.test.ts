import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_IMAGE, dockerSkip, expectNoContainersLeft, managedContainers, stateLabel } from './docker-env.js';
import { call, httpClient, sh, waitFor } from './helpers.js';

/**
 * The server's own image (Dockerfile), as CI builds it with scripts/docker-server-image.sh: started with the
 * docker provider and the engine socket, as compose.yaml runs it. The container shares the host's network
 * namespace (the engine here has no bridge network) and its server binds 127.0.0.1 only, so the test stays
 * on loopback; its sandboxes are sibling containers with --network none.
 */
const SERVER_IMAGE = process.env.SANDBOX_SERVER_IMAGE ?? 'sandbox-mcp-server:test';
const SOCKET = '/var/run/docker.sock';

function skipReason(): string | undefined {
  if (dockerSkip) return dockerSkip;
  if (process.env.DOCKER_HOST && process.env.DOCKER_HOST !== `unix://${SOCKET}`)
    return `DOCKER_HOST is ${process.env.DOCKER_HOST}: this test mounts the engine's socket ${SOCKET}`;
  if (spawnSync('docker', ['image', 'inspect', SERVER_IMAGE], { stdio: 'ignore' }).status !== 0)
    return `image ${SERVER_IMAGE} is missing; build it with scripts/docker-server-image.sh`;
  return undefined;
}
const skip = skipReason();
if (skip) console.warn(`skipped: ${skip}`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', timeout: 60_000 }).trim();
/** The container's output: the server logs JSON lines to stderr. */
function logs(name: string): string {
  const r = spawnSync('docker', ['logs', name], { encoding: 'utf8', timeout: 60_000 });
  return `${r.stdout}${r.stderr}`;
}

describe.skipIf(skip)('the server image', () => {
  const name = `sandbox-mcp-server-test-${randomBytes(4).toString('hex')}`;
  // A state dir of its own inside the image's volume: the server labels its sandboxes with it.
  const stateDir = `/var/lib/sandbox-mcp/ci-${randomBytes(4).toString('hex')}`;
  const token = randomBytes(16).toString('hex');
  let url = '';

  beforeAll(async () => {
    const port = await freePort();
    docker(
      'run',
      '--detach',
      '--name',
      name,
      '--network',
      'host',
      '--group-add',
      String(statSync(SOCKET).gid),
      '--volume',
      `${SOCKET}:${SOCKET}:rw`,
      // The image's own HEALTHCHECK command, probed every second instead of every 30.
      '--health-interval',
      '1s',
      '--health-start-period',
      '0s',
      '--env',
      `SANDBOX_MCP_PORT=${port}`,
      '--env',
      'SANDBOX_MCP_HOST=127.0.0.1',
      '--env',
      `SANDBOX_MCP_AUTH_TOKEN=${token}`,
      '--env',
      `SANDBOX_STATE_DIR=${stateDir}`,
      '--env',
      `SANDBOX_DOCKER_IMAGE=${DOCKER_IMAGE}`,
      '--env',
      'SANDBOX_MEMORY_MB=512',
      '--env',
      'SANDBOX_PIDS_MAX=96',
      '--env',
      'SANDBOX_CPUS=1',
      SERVER_IMAGE,
    );
    url = `http://127.0.0.1:${port}/mcp`;
  }, 60_000);

  afterAll(() => {
    spawnSync('docker', ['rm', '--force', '--volumes', name], { stdio: 'ignore' });
    for (const line of managedContainers(stateLabel(stateDir)))
      spawnSync('docker', ['rm', '--force', '--volumes', line.split(' ')[0]!], { stdio: 'ignore' });
  });

  it('runs as a non-root user, reports healthy, serves a tool through the docker provider, and exits 0 on SIGTERM', async () => {
    // PID 1 is the server itself, not a shell, and it is not root.
    expect(docker('exec', name, 'cat', '/proc/1/cmdline').split('\0').slice(0, 2)).toEqual([
      'node',
      '/app/dist/cli.js',
    ]);
    expect(docker('exec', name, 'cat', '/proc/1/status')).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    const health = await waitFor(
      () => {
        const status = docker('inspect', '--format', '{{.State.Health.Status}}', name);
        return status === 'healthy' ? status : status === 'unhealthy' ? `unhealthy: ${logs(name)}` : false;
      },
      45_000,
      500,
    );
    expect(health).toBe('healthy');
    const healthz = (await (await fetch(new URL('/healthz', url))).json()) as Record<string, unknown>;
    expect(healthz).toMatchObject({ status: 'ok', provider: 'docker' });

    const { client } = await httpClient(url, { Authorization: `Bearer ${token}` });
    const info = await call(client, 'sandbox_info');
    expect(info.structuredContent).toMatchObject({ provider: 'docker' });
    const r = await sh(client, 'echo hello from $(id -u) in $(pwd)');
    expect(r).toMatchObject({ exitCode: 0, stdout: 'hello from 1000 in /workspace\n' });
    // The sandbox is a sibling container on the host's engine, made by the server in the container.
    expect(managedContainers(stateLabel(stateDir))).toHaveLength(1);

    // docker stop sends SIGTERM and waits 20 s before a SIGKILL (which would read as exit 137).
    const started = Date.now();
    docker('stop', '--time', '20', name);
    const stopMs = Date.now() - started;
    expect(docker('inspect', '--format', '{{.State.ExitCode}} {{.State.OOMKilled}}', name)).toBe('0 false');
    expect(stopMs).toBeLessThan(12_000);
    expect(logs(name)).toMatch(/"reason":"SIGTERM","msg":"shutting down"/);
    // The session was still open: shutting down removed its sandbox container.
    await expectNoContainersLeft(stateDir);
    await client.close().catch(() => undefined);
  }, 120_000);
});
