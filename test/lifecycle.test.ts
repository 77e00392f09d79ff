import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import {
  call,
  CLI,
  hostProcessesWith,
  isolationSkipReason,
  sh,
  startHttpServer,
  stdioClient,
  tempDir,
  text,
  waitFor,
} from './helpers.js';

const sandboxDirs = (state: string) =>
  existsSync(path.join(state, 'sandboxes')) ? readdirSync(path.join(state, 'sandboxes')) : [];

describe('lifecycle', () => {
  it('stdin close ends the server and leaves no sandbox process or workspace', async () => {
    const state = tempDir();
    const marker = `stdin-close-${Date.now()}`;
    const { client, transport, pid } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_WARM_POOL: '1' });
    await call(client, 'shell_start', { command: `sleep 300; echo ${marker}` });
    expect((await hostProcessesWith(marker)).length).toBeGreaterThan(0);
    await transport.close(); // closes the server's stdin
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
    expect(await hostProcessesWith(marker)).toEqual([]);
    expect(sandboxDirs(state.dir)).toEqual([]);
    state.cleanup();
  });

  it('a client closing during a long call (stdin end, then SIGTERM 2 s later, as the SDK does) still cleans up', async () => {
    const state = tempDir();
    const marker = `close-busy-${Date.now()}`;
    const { client, transport, pid, stderr } = await stdioClient({ SANDBOX_STATE_DIR: state.dir });
    void client
      .callTool({ name: 'shell_exec', arguments: { command: `sleep 120; echo ${marker}` } })
      .catch(() => 'closed');
    await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 10_000);
    await transport.close();
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
    expect(stderr.join('')).not.toMatch(/second signal|exiting anyway/);
    expect(await hostProcessesWith(marker)).toEqual([]);
    expect(sandboxDirs(state.dir)).toEqual([]);
    state.cleanup();
  });

  it('SIGTERM during a long call exits in time and leaves nothing running', async () => {
    const state = tempDir();
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
    const { httpClient } = await import('./helpers.js');
    const { client } = await httpClient(server.url);
    const marker = `sigterm-${Date.now()}`;
    void client
      .callTool({ name: 'shell_exec', arguments: { command: `sleep 120; echo ${marker}` } })
      .catch(() => 'aborted');
    await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 10_000);
    const t0 = Date.now();
    const code = await server.stop('SIGTERM');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(code).toBe(0);
    await client.close();
    expect(await hostProcessesWith(marker)).toEqual([]);
    expect(sandboxDirs(state.dir)).toEqual([]);
    state.cleanup();
  });

  it('SIGTERM lets a call in flight finish and answer within the grace period, then exits', async () => {
    const state = tempDir();
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_SHUTDOWN_GRACE: '8' });
    const { httpClient } = await import('./helpers.js');
    const { client } = await httpClient(server.url);
    const marker = `finish-${Date.now()}`;
    const pending = call(client, 'shell_exec', { command: `sleep 2; echo ${marker}` });
    await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 10_000);
    const exited = server.stop('SIGTERM');
    const r = await pending;
    expect(r.isError, text(r)).toBeFalsy();
    expect(r.structuredContent!.stdout).toBe(`${marker}\n`);
    expect(await exited).toBe(0);
    expect(sandboxDirs(state.dir)).toEqual([]);
    await client.close();
    state.cleanup();
  });

  it('a second signal exits at once, without waiting for the grace period', async () => {
    const state = tempDir();
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_SHUTDOWN_GRACE: '8' });
    const { httpClient } = await import('./helpers.js');
    const { client } = await httpClient(server.url);
    const marker = `twice-${Date.now()}`;
    void client
      .callTool({ name: 'shell_exec', arguments: { command: `sleep 120; echo ${marker}` } })
      .catch(() => 'aborted');
    await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 10_000);
    server.proc.kill('SIGTERM');
    await waitFor(() => server.logs.some((l) => l.includes('shutting down')), 5000);
    expect(await server.stop('SIGINT')).toBe(130);
    expect(server.logs.some((l) => l.includes('second signal'))).toBe(true);
    await client.close();
    await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 5000); // the sandbox dies with its server
    state.cleanup();
  });

  for (const isolation of ['bwrap', 'unshare'] as const)
    it.skipIf(!!isolationSkipReason(isolation))(
      `after SIGKILL, the next start reaps the orphaned sandboxes (${isolation})`,
      async () => {
        const state = tempDir();
        const env = { SANDBOX_STATE_DIR: state.dir, SANDBOX_ISOLATION: isolation };
        const first = await startHttpServer(env);
        const { httpClient } = await import('./helpers.js');
        const { client } = await httpClient(first.url);
        const marker = `orphan-${Date.now()}`;
        await call(client, 'shell_start', { command: `sleep 300; echo ${marker}` });
        const id = (await call(client, 'sandbox_info')).structuredContent!.id as string;
        await first.stop('SIGKILL');
        expect(sandboxDirs(state.dir)).toContain(id);
        const second = await startHttpServer(env);
        try {
          expect(second.logs.some((l) => l.includes('reaped') && l.includes(id))).toBe(true);
          expect(sandboxDirs(state.dir)).not.toContain(id);
          await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 5000);
        } finally {
          await second.stop();
          state.cleanup();
        }
      },
    );

  it('an idle sandbox is reaped; the next call gets a fresh one and says so', async () => {
    const state = tempDir();
    const { client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_IDLE_TIMEOUT: '1' });
    try {
      await sh(client, 'echo old > keep.txt');
      await waitFor(() => sandboxDirs(state.dir).length === 0, 10_000);
      const r = await call(client, 'shell_exec', { command: 'cat keep.txt 2>&1 || echo gone' });
      expect(text(r)).toMatch(/idle for more than 1 s.*fresh sandbox/);
      expect((r.structuredContent as { stdout: string }).stdout).toContain('gone');
    } finally {
      await client.close();
      state.cleanup();
    }
  });

  it('stdout carries only JSON-RPC, logs are JSON lines on stderr', async () => {
    const state = tempDir();
    const proc = spawn(process.execPath, [CLI], {
      env: { PATH: process.env.PATH, SANDBOX_STATE_DIR: state.dir, LOG_LEVEL: 'debug', SANDBOX_WARM_POOL: '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: string[] = [];
    const err: string[] = [];
    readline.createInterface({ input: proc.stdout! }).on('line', (l) => out.push(l));
    readline.createInterface({ input: proc.stderr! }).on('line', (l) => err.push(l));
    const send = (m: unknown) => proc.stdin!.write(`${JSON.stringify(m)}\n`);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    await waitFor(() => out.length >= 1, 10_000);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'shell_exec', arguments: { command: 'echo to-stdout; echo to-stderr >&2' } },
    });
    await waitFor(() => out.length >= 2, 20_000);
    proc.stdin!.end();
    await new Promise((r) => proc.once('exit', r));
    for (const line of out) expect(JSON.parse(line)).toHaveProperty('jsonrpc', '2.0');
    expect(out.join('\n')).toContain('to-stdout'); // inside the JSON result, not as a stray line
    expect(err.length).toBeGreaterThan(0);
    for (const line of err) expect(() => JSON.parse(line)).not.toThrow();
    state.cleanup();
  });
});

describe('configuration', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, ...env },
      encoding: 'utf8',
      timeout: 20_000,
      input: '',
    });

  it.each([
    [['--port', 'abc'], {}, /--port/],
    [[], { SANDBOX_IDLE_TIMEOUT: 'soon' }, /SANDBOX_IDLE_TIMEOUT/],
    [[], { SANDBOX_PROVIDER: 'azure' }, /SANDBOX_PROVIDER.*"azure"/],
    [['--isolation', 'chroot'], {}, /--isolation/],
    [['--port', '0', '--host', '0.0.0.0'], {}, /without an auth token.*SANDBOX_MCP_AUTH_TOKEN/],
    [['--bogus'], {}, /unknown option --bogus/],
    [[], { SANDBOX_MCP_AUTH_TOKEN: 'short' }, /SANDBOX_MCP_AUTH_TOKEN.*16/],
  ] as [string[], Record<string, string>, RegExp][])('refuses to start on %j %j', (args, env, message) => {
    const r = run(args, env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('--help lists every option with its env var and default', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const s of [
      'SANDBOX_IDLE_TIMEOUT',
      'SANDBOX_STATE_DIR',
      'SANDBOX_MCP_AUTH_TOKEN',
      '(default: 900)',
      'SANDBOX_PROVIDER',
    ])
      expect(r.stderr).toContain(s);
  });

  it('logs the provider it chose and why', async () => {
    const state = tempDir();
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
    await server.stop();
    const chosen = server.logs
      .map((l) => JSON.parse(l) as { msg: string; provider?: string; reason?: string })
      .find((l) => l.msg === 'provider chosen');
    expect(chosen).toMatchObject({ provider: 'local', reason: expect.stringContaining('local default') });
    state.cleanup();
  });
});
