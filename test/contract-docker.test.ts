import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import type { Sandbox, SandboxProvider } from '../src/providers/types.js';
import { providerContract } from './contract.js';
import { DOCKER_IMAGE, dockerSkip, managedContainers } from './docker-env.js';
import { tempDir, waitFor } from './helpers.js';

const state = tempDir('sbx-contract-docker-');
const danglingVolumes = () =>
  dockerSkip
    ? []
    : execFileSync('docker', ['volume', 'ls', '-q', '--filter', 'dangling=true'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
const volumesBefore = danglingVolumes();
const stateLabel = `sandbox-mcp.state=${createHash('sha256').update(state.dir).digest('hex').slice(0, 16)}`;

async function dockerProvider(): Promise<SandboxProvider> {
  const config = loadConfig(
    {
      stateDir: state.dir,
      provider: 'docker',
      dockerImage: DOCKER_IMAGE,
      network: 'none',
      memoryMb: '512',
      cpus: '1',
      fileSizeMb: '8',
    },
    {},
  );
  const { DockerProvider } = await import('../src/providers/docker/provider.js');
  return DockerProvider.start(config, createLogger('warn'));
}

providerContract('docker', dockerProvider, { skip: dockerSkip });

afterAll(async () => {
  // Every container the suite created is gone once the provider shut down, its /workspace volume too.
  if (!dockerSkip) expect(managedContainers(stateLabel)).toEqual([]);
  // Anonymous volumes (64 hex digits) only: named ones are workspaces, kept on purpose. Other test files
  // remove containers meanwhile, and a volume dangles for a moment while its container goes: wait it out.
  const leftover = () => danglingVolumes().filter((v) => /^[0-9a-f]{64}$/.test(v) && !volumesBefore.includes(v));
  if (!dockerSkip) await waitFor(() => leftover().length === 0, 15_000).catch(() => undefined);
  if (!dockerSkip) expect(leftover()).toEqual([]);
  rmSync(state.dir, { recursive: true, force: true });
});

it.skipIf(!!dockerSkip)('docker suite leaves no container behind (checked in afterAll)', () => {
  expect(stateLabel).toMatch(/^sandbox-mcp\.state=[0-9a-f]{16}$/);
});

describe.skipIf(!!dockerSkip)('docker provider specifics', () => {
  let provider: SandboxProvider;
  let sb: Sandbox;
  const run = async (cmd: string) => (await sb.exec(cmd, { timeoutMs: 20_000 })).stdout;

  beforeAll(async () => {
    provider = await dockerProvider();
    sb = await provider.create({ labels: { session: `specifics-${Date.now()}` }, timeoutMs: 60_000 });
  }, 120_000);
  afterAll(async () => {
    await sb?.kill();
    await provider?.shutdown();
  });

  it('connectPort bridges to a port on the container loopback, and cleans up when destroyed', async () => {
    await run('mkdir -p www && echo "hello from the sandbox" > www/index.html');
    const p = await sb.processes.spawn('exec python3 -u -m http.server 8000 --bind 127.0.0.1', { cwd: 'www' });
    await sb.processes.read(p.processId, { waitMs: 15_000, until: 'Serving HTTP', maxBytes: 4096 });
    const fetchVia = async () => {
      const conn = await sb.connectPort!(8000);
      const chunks: Buffer[] = [];
      conn.on('data', (c: Buffer) => chunks.push(c));
      const ended = new Promise((r) => conn.on('end', r));
      conn.write('GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n');
      await ended;
      conn.destroy();
      return Buffer.concat(chunks).toString();
    };
    const [a, b] = await Promise.all([fetchVia(), fetchVia()]);
    expect(a).toMatch(/^HTTP\/1\.0 200 OK/);
    expect(a).toContain('hello from the sandbox');
    expect(b).toContain('hello from the sandbox');
    // An idle connection (the server waits for a request line) ends when the caller destroys it.
    const idle = await sb.connectPort!(8000);
    expect(Number(await run('pgrep -fc sandbox-mcp-por[t] || true'))).toBe(1);
    idle.destroy();
    await waitFor(async () => Number(await run('pgrep -fc sandbox-mcp-por[t] || true')) === 0, 10_000);
    await expect(sb.connectPort!(8001)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await sb.processes.kill(p.processId, 'SIGKILL');
  });

  it('files resolve inside the container: a symlink to / reaches the container root, never the host', async () => {
    await run('ln -sfn / rootlink && ln -sfn /etc/hostname hn');
    expect((await sb.files.read('hn')).data.toString()).toBe('sandbox\n');
    const name = `escape-${Date.now()}`;
    await sb.files.write(`rootlink/tmp/${name}`, Buffer.from('inside'));
    expect(existsSync(`/tmp/${name}`)).toBe(false);
    expect(await run(`cat /tmp/${name}`)).toBe('inside');
    await expect(sb.files.write('rootlink/etc/passwd', Buffer.from('x'))).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
    });
    await expect(sb.files.write('/usr/new-file', Buffer.from('x'))).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
    });
  });

  it('files: errors carry codes; sizes, modes and symlinks are reported', async () => {
    await expect(sb.files.read('missing.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await sb.files.mkdir('adir/sub');
    await expect(sb.files.read('adir')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(sb.files.write('adir', Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const st = await sb.files.write('adir/run.sh', Buffer.from('#!/bin/sh\necho ran\n'), { mode: 0o755 });
    expect(st).toMatchObject({ type: 'file', size: 19, mode: 0o755, path: '/workspace/adir/run.sh' });
    expect(await run('adir/run.sh')).toBe('ran\n');
    expect(Date.now() - Date.parse(st.mtime)).toBeLessThan(60_000);
    expect(await sb.files.stat('rootlink')).toMatchObject({ type: 'symlink', linkTarget: '/' });
    expect((await sb.files.read('adir/run.sh', { offset: 10, length: 4 })).data.toString()).toBe('echo');
    const names = await sb.files.list('adir');
    expect(names.map((e) => `${e.name}:${e.type}`).sort()).toEqual(['run.sh:file', 'sub:directory']);
    await expect(sb.files.write('big.bin', Buffer.alloc(9 * 1024 * 1024))).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
    });
    expect(await run('ls -a | grep -c "big.bin" || true')).toBe('0\n');
  });

  it("a container removed behind the server's back makes the sandbox report SANDBOX_GONE", async () => {
    const other = await provider.create({ labels: { session: `removed-${Date.now()}` }, timeoutMs: 60_000 });
    execFileSync('docker', ['rm', '-f', '-v', `sandbox-mcp-${other.id}`], { stdio: 'ignore' });
    await expect(other.exec('true', { timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'SANDBOX_GONE' });
    expect(other.isAlive()).toBe(false);
    await other.kill();
  });

  it('another provider instance (a replica, or the server after a restart) reattaches by id', async () => {
    await run('echo kept > kept.txt');
    const replica = await dockerProvider();
    const again = await replica.connect(sb.id);
    expect((await again.exec('cat kept.txt', { timeoutMs: 10_000 })).stdout).toBe('kept\n');
    await expect(replica.connect('nosuchsandbox')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
