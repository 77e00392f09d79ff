import net from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerEnv, dockerSkip, expectNoContainersLeft, managedContainers, stateLabel } from './docker-env.js';
import {
  call,
  hostProcessesWith,
  sh,
  stdioClient,
  tempDir,
  text,
  waitFor,
  expectEarlyCancelNeverRuns,
} from './helpers.js';
import { fetchHost, hostOf } from './web-helpers.js';

/** The shell tools end to end over stdio with SANDBOX_PROVIDER=docker: the built CLI, a real engine. */
if (dockerSkip) console.warn(`[shell-docker] skipped: ${dockerSkip}`);

describe.skipIf(!!dockerSkip)('shell tools over stdio on docker', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    state = tempDir('sbx-docker-');
    // These cases are about the provider's output cap: a result budget above it lets them see it whole
    // (test/surface-budget.test.ts holds the budget itself), as test/shell.test.ts does.
    ({ client } = await stdioClient(dockerEnv(state.dir, { SANDBOX_RESULT_MAX_KB: '256' })));
  });
  afterAll(async () => {
    await client?.close();
    // The server removes its container when its stdin closes; nothing of this run may stay behind.
    try {
      if (state) await expectNoContainersLeft(state.dir);
    } finally {
      state?.cleanup();
    }
  });

  it('creates the container at the first call, labelled with the session, not at initialize', async () => {
    expect(managedContainers(stateLabel(state.dir))).toEqual([]);
    await sh(client, 'true');
    expect(managedContainers(stateLabel(state.dir), 'sandbox-mcp.label.session=stdio').length).toBe(1);
  });

  it('sandbox_info reports docker, network none and the limits', async () => {
    const r = await call(client, 'sandbox_info');
    expect(r.structuredContent).toMatchObject({
      provider: 'docker',
      workdir: '/workspace',
      network: expect.stringContaining('none'),
    });
    expect(r.structuredContent!.limits).toMatchObject({ memoryMb: 512, cpus: 1, pidsMax: 96, maxOutputBytes: 65536 });
  });

  it('returns exit code and streams separately; honours cwd, env and stdin', async () => {
    const r = await call(client, 'shell_exec', { command: 'echo out; echo err >&2; exit 3' });
    expect(r.structuredContent).toMatchObject({
      exitCode: 3,
      stdout: 'out\n',
      stderr: 'err\n',
      timedOut: false,
      truncated: false,
    });
    const raw = await sh(client, `printf 'no newline'; printf 'a\\0b' >&2`);
    expect(raw).toMatchObject({ stdout: 'no newline', stderr: 'a\0b', exitCode: 0 });
    expect((await sh(client, 'pwd')).stdout).toBe('/workspace\n');
    await sh(client, 'mkdir -p sub/dir');
    expect((await sh(client, 'pwd', { cwd: 'sub/dir' })).stdout).toBe('/workspace/sub/dir\n');
    expect((await sh(client, 'echo "$GREETING $USER"', { env: { GREETING: 'héllo ✓' } })).stdout).toBe(
      'héllo ✓ user\n',
    );
    expect((await sh(client, 'tr a-z A-Z', { stdin: 'shout\n' })).stdout).toBe('SHOUT\n');
    expect((await sh(client, 'cat; echo done')).stdout).toBe('done\n');
    const bad = await call(client, 'shell_exec', { command: 'true', cwd: 'no/such/dir' });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/not an existing directory.*mkdir -p/);
  });

  it('runs as a non-root user with no capabilities and no new privileges', async () => {
    expect((await sh(client, 'id -u; id -g')).stdout).toBe('1000\n1000\n');
    const status = (await sh(client, 'grep -E "^(CapEff|CapBnd|NoNewPrivs):" /proc/self/status')).stdout;
    expect(status).toMatch(/CapEff:\s+0000000000000000/);
    expect(status).toMatch(/CapBnd:\s+0000000000000000/);
    expect(status).toMatch(/NoNewPrivs:\s+1/);
  });

  it('has a read-only root with a writable /workspace, /tmp and home', async () => {
    const r = await sh(client, 'touch /etc/x /usr/x / 2>&1; touch /workspace/w /tmp/t ~/h && echo writable');
    expect(r.stdout).toMatch(/\/etc\/x.*Read-only file system/);
    expect(r.stdout).toContain('writable');
  });

  it('has no network but its own loopback; host loopback services are unreachable', async () => {
    expect((await sh(client, 'ls /sys/class/net')).stdout).toBe('lo\n');
    const host = net.createServer((s) => s.end('host secret\n'));
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const port = (host.address() as net.AddressInfo).port;
    try {
      const r = await sh(
        client,
        `timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && cat <&3' 2>&1; echo "rc=$?"`,
      );
      expect(r.stdout).not.toContain('host secret');
      expect(r.stdout).toMatch(/Connection refused/);
    } finally {
      host.close();
    }
  });

  it('shows the memory, CPU, process and file size limits inside', async () => {
    const r = await sh(
      client,
      [
        'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
        'cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max',
        'cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"',
        'ulimit -f',
      ].join('; '),
    );
    const [mem, pids, cpu, fsize] = r.stdout.trim().split('\n');
    expect(Number(mem)).toBe(512 * 1024 * 1024);
    expect(Number(pids)).toBe(96);
    const [quota, period] = cpu!.split(' ').map(Number);
    expect(quota! / period!).toBe(1);
    expect(Number(fsize)).toBe(64 * 1024); // 1 KiB blocks
  });

  it('enforces the process limit and the memory limit, and keeps answering', async () => {
    // 150 sleeps against a limit of 96: forks fail, and the timeout must still kill the tree while the
    // sandbox has no process to spare (no new exec can start then).
    const forks = await sh(client, 'for i in $(seq 150); do sleep 60 & done 2>/tmp/forks.err; wait', { timeout_s: 6 });
    expect(forks.timedOut).toBe(true);
    expect((await sh(client, 'cat /tmp/forks.err')).stdout).toContain('Resource temporarily unavailable');
    expect((await sh(client, 'echo alive')).stdout).toBe('alive\n');
    const oom = await sh(client, `python3 -c "b = b'x' * (700 << 20); print(len(b))"`);
    expect(oom.exitCode).toBe(137);
    expect((await sh(client, 'echo alive')).stdout).toBe('alive\n');
  });

  it('keeps a background server running and reaches it from the next call', async () => {
    await sh(client, 'mkdir -p site/sub/dir');
    const start = await call(client, 'shell_start', {
      command: 'exec python3 -u -m http.server 8765 --bind 127.0.0.1',
      cwd: 'site',
      name: 'web',
    });
    expect(start.isError).toBeFalsy();
    const processId = start.structuredContent!.processId as string;
    const ready = await call(client, 'shell_read', { processId, wait_s: 20, until: 'Serving HTTP' });
    expect(ready.structuredContent).toMatchObject({ matched: true, running: true });
    const got = await sh(
      client,
      `exec 3<>/dev/tcp/127.0.0.1/8765 && printf 'GET /sub/ HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3`,
    );
    expect(got.stdout).toContain('200 OK');
    expect(got.stdout).toContain('dir/');
    await call(client, 'shell_kill', { processId: 'web', signal: 'SIGKILL' });
  });

  it('a preview URL reaches a container port through the server (exec bridge, network none)', async () => {
    await sh(client, 'mkdir -p pv && echo "previewed from docker" > pv/index.html');
    await call(client, 'shell_start', {
      command: 'exec python3 -u -m http.server 8777 --bind 127.0.0.1',
      cwd: 'pv',
      name: 'pv',
    });
    const r = await waitFor(
      async () => {
        const x = await call(client, 'expose_port', { port: 8777 });
        return x.isError ? false : x;
      },
      20_000,
      300,
    );
    const { port, host } = hostOf(r.structuredContent!.url as string);
    expect((await fetchHost(port, host, '/index.html')).body).toBe('previewed from docker\n');
    await call(client, 'shell_kill', { processId: 'pv', signal: 'SIGKILL' });
  });

  it('kills the whole process tree on timeout', async () => {
    const marker = `tree-${Date.now()}`;
    const r = await sh(client, `bash -c 'sleep 300 # ${marker}' & setsid bash -c 'sleep 301 # ${marker}' & wait`, {
      timeout_s: 1,
    });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(r.durationMs).toBeLessThan(10_000);
    await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 15_000); // docker execs are slow on a loaded machine
    const again = await call(client, 'shell_exec', { command: 'sleep 5', timeout_s: 1 });
    expect(text(again)).toMatch(/timed out after 1 s.*shell_start/s);
  });

  it('caps huge output, keeping head and tail', async () => {
    const r = await sh(client, 'echo FIRST; head -c 50000000 /dev/zero | tr "\\0" x; echo; echo LAST');
    expect(r.exitCode).toBe(0);
    expect(r.truncated).toBe(true);
    expect(r.droppedBytes).toBeGreaterThan(49_000_000);
    expect(r.stdout.startsWith('FIRST\n')).toBe(true);
    expect(r.stdout.trimEnd().endsWith('LAST')).toBe(true);
    expect(r.stdout.length).toBeLessThan(70_000);
  });

  it('answers when the command exits even if a background child holds its output open', async () => {
    const r = await sh(client, 'sleep 10 & echo quick');
    expect(r.stdout).toBe('quick\n');
    expect(r.durationMs).toBeLessThan(6000); // well under the child's 10 s, with room for a loaded engine
  });

  it('runs background processes with cursors, until, stdin and exit codes', async () => {
    const start = await call(client, 'shell_start', {
      command: 'echo ready; while read line; do echo "got:$line"; done; echo bye; exit 7',
    });
    const processId = start.structuredContent!.processId as string;
    const first = await call(client, 'shell_read', { processId, wait_s: 10, until: 'ready' });
    expect(first.structuredContent).toMatchObject({ output: 'ready\n', running: true, matched: true });
    await call(client, 'shell_write', { processId, input: 'one\n' });
    const second = await call(client, 'shell_read', {
      processId,
      cursor: first.structuredContent!.cursor,
      wait_s: 10,
      until: 'got:one',
    });
    expect(second.structuredContent!.output).toBe('got:one\n');
    await call(client, 'shell_write', { processId, input: 'two\n', close: true });
    const last = await call(client, 'shell_read', {
      processId,
      cursor: second.structuredContent!.cursor,
      wait_s: 10,
      until: 'bye',
    });
    expect(last.structuredContent!.output).toBe('got:two\nbye\n');
    const done = await call(client, 'shell_read', {
      processId,
      cursor: last.structuredContent!.cursor as number,
      wait_s: 5,
    });
    expect(done.structuredContent).toMatchObject({ running: false, exitCode: 7 });
    const list = await call(client, 'shell_list');
    expect((list.structuredContent!.processes as { processId: string }[]).map((p) => p.processId)).toContain(processId);
  });

  it("a background process's last output arrives before it is reported exited (stdout and stderr race)", async () => {
    // The engine copies stdout and stderr separately: the wrapper's exit line (stderr) can overtake the
    // command's last output. Many short processes at once, each ending on a burst of output, make it likely.
    const runOne = async (i: number) => {
      const start = await call(client, 'shell_start', {
        command: `echo start; head -c 100000 /dev/zero | tr '\\0' x; echo; echo end-${i}`,
      });
      const processId = start.structuredContent!.processId as string;
      const r = await call(client, 'shell_read', { processId, wait_s: 30, until: `^end-${i}$` });
      return r.structuredContent!.matched;
    };
    const matched = await Promise.all(Array.from({ length: 16 }, (_, i) => runOne(i)));
    expect(matched.filter((m) => !m).length).toBe(0);
  });

  it('shell_kill stops a process and its children', async () => {
    const marker = `killme-${Date.now()}`;
    const start = await call(client, 'shell_start', {
      command: `bash -c 'sleep 600 # ${marker}' & sleep 601 # ${marker}`,
    });
    await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 5000);
    const killed = await call(client, 'shell_kill', { processId: start.structuredContent!.processId });
    expect(killed.structuredContent).toMatchObject({ running: false, signal: 'SIGTERM' });
    await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 15_000); // docker execs are slow on a loaded machine
  });

  it('a call cancelled before its command started never runs it', () => expectEarlyCancelNeverRuns(client, 15_000));

  it('a cancelled call kills its command', async () => {
    const marker = `cancel-${Date.now()}`;
    const ac = new AbortController();
    const pending = client.callTool(
      { name: 'shell_exec', arguments: { command: `sleep 120; echo ${marker}` } },
      undefined,
      { signal: ac.signal },
    );
    await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 5000);
    ac.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 15_000); // docker execs are slow on a loaded machine
  });
});

describe.skipIf(!!dockerSkip)('docker sandbox lifecycle', () => {
  it("a client that closes while a call runs leaves no container (stdin end, then the SDK's SIGTERM)", async () => {
    const state = tempDir('sbx-docker-close-');
    const { client, transport } = await stdioClient(dockerEnv(state.dir));
    try {
      const marker = `close-busy-${Date.now()}`;
      void client
        .callTool({ name: 'shell_exec', arguments: { command: `sleep 120; echo ${marker}` } })
        .catch(() => 'closed');
      await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 15_000);
      expect(managedContainers(stateLabel(state.dir))).toHaveLength(1);
      await transport.close();
      await waitFor(() => managedContainers(stateLabel(state.dir)).length === 0, 15_000);
    } finally {
      state.cleanup();
    }
  });

  it('removes the container after the idle timeout; the next call gets a fresh sandbox', async () => {
    const state = tempDir('sbx-docker-idle-');
    const { client } = await stdioClient(dockerEnv(state.dir, { SANDBOX_IDLE_TIMEOUT: '2' }));
    try {
      await sh(client, 'echo gone-soon > f');
      expect(managedContainers(stateLabel(state.dir))).toHaveLength(1);
      await waitFor(() => managedContainers(stateLabel(state.dir)).length === 0, 15_000);
      const r = await call(client, 'shell_exec', { command: 'cat f 2>&1; true' });
      expect(text(r)).toMatch(/idle.*fresh sandbox/s);
      expect(r.structuredContent!.stdout).toMatch(/No such file/);
    } finally {
      await client.close();
      await waitFor(() => managedContainers(stateLabel(state.dir)).length === 0, 15_000);
      state.cleanup();
    }
  });

  it('a server started after one that crashed removes its containers', async () => {
    const state = tempDir('sbx-docker-orphan-');
    const first = await stdioClient(dockerEnv(state.dir));
    await sh(first.client, 'true');
    expect(managedContainers(stateLabel(state.dir))).toHaveLength(1);
    process.kill(first.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect(managedContainers(stateLabel(state.dir))).toHaveLength(1);
    const second = await stdioClient(dockerEnv(state.dir));
    try {
      // Reaping runs before the server answers initialize.
      expect(managedContainers(stateLabel(state.dir))).toEqual([]);
    } finally {
      await second.client.close();
      state.cleanup();
    }
  });
});

describe('docker provider without an engine or image', () => {
  it('a missing engine is an isError result naming DOCKER_HOST', async () => {
    const state = tempDir('sbx-docker-noengine-');
    // Not under the state dir: error texts name no path of the server's state (test/security/leaks.test.ts).
    const socketDir = tempDir('sbx-docker-nosock-');
    const { client } = await stdioClient(
      dockerEnv(state.dir, { DOCKER_HOST: `unix://${socketDir.dir}/no-docker.sock` }),
    );
    try {
      const r = await call(client, 'shell_exec', { command: 'true' });
      expect(r.isError).toBe(true);
      expect(text(r)).toContain(`DOCKER_HOST=unix://${socketDir.dir}/no-docker.sock`);
      expect(text(r)).toMatch(/start Docker/);
    } finally {
      await client.close();
      state.cleanup();
      socketDir.cleanup();
    }
  });

  it.skipIf(!!dockerSkip)('a missing image says how to build one', async () => {
    const state = tempDir('sbx-docker-noimage-');
    const { client } = await stdioClient(
      dockerEnv(state.dir, { SANDBOX_DOCKER_IMAGE: 'sandbox-mcp-no-such-image:never' }),
    );
    try {
      const r = await call(client, 'shell_exec', { command: 'true' });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/sandbox-mcp-no-such-image:never is not available.*build it/s);
    } finally {
      await client.close();
      state.cleanup();
    }
  });
});
