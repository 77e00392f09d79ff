import { execFileSync, spawnSync } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveInSandbox, snapshotOf } from './browser-helpers.js';
import {
  DOCKER_IMAGE,
  dockerEnv,
  dockerSkip,
  expectNoContainersLeft,
  managedContainers,
  stateLabel,
} from './docker-env.js';
import {
  call,
  CLI,
  hostProcessesWith,
  httpClient,
  sh,
  startHttpServer,
  stdioClient,
  tempDir,
  text,
  waitFor,
  type HttpServer,
} from './helpers.js';

/** Named workspaces under stress: shared first calls, crashes, idle sessions, shared browsers, two servers. */

const idOf = async (c: Client) => ((await call(c, 'sandbox_info')).structuredContent as { id: string }).id;

async function activeGauge(server: HttpServer): Promise<number> {
  const body = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  return Number(/^sandbox_mcp_sandboxes_active (\d+)/m.exec(body)?.[1]);
}

describe('named workspaces under stress (local provider)', () => {
  let state: ReturnType<typeof tempDir>;
  beforeAll(() => {
    state = tempDir('sbx-ws-review-');
  });
  afterAll(() => state?.cleanup());

  it('concurrent first calls of two sessions make one sandbox; a crash gives both a fresh one with the files, counted once', async () => {
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_WORKSPACE_TTL: '60' });
    try {
      const [a, b] = await Promise.all([
        httpClient(server.url, { 'Sandbox-Workspace': 'twin' }),
        httpClient(server.url, { 'Sandbox-Workspace': 'twin' }),
      ]);
      const [ida, idb] = await Promise.all([idOf(a.client), idOf(b.client)]);
      expect(idb).toBe(ida);
      expect(await activeGauge(server)).toBe(1);
      await sh(a.client, 'echo kept > k.txt');
      await call(a.client, 'shell_exec', { command: 'kill -9 -1' }); // the agent too: the sandbox dies
      const r = await call(b.client, 'shell_exec', { command: 'cat k.txt' });
      expect(text(r)).toMatch(/workspace "twin" was restarted.*files are kept/);
      expect(r.structuredContent!.stdout).toBe('kept\n');
      expect(await idOf(a.client)).not.toBe(ida);
      expect(await activeGauge(server)).toBe(1);
    } finally {
      await server.stop();
    }
  });

  it('a session that idled out is told when the workspace sandbox ended meanwhile, and warned over MCP logging on a crash', async () => {
    const { client } = await stdioClient({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_WORKSPACE: 'idler',
      SANDBOX_IDLE_TIMEOUT: '1',
      SANDBOX_WORKSPACE_TTL: '1',
    });
    const heard: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      heard.push(`${n.params.level}: ${String(n.params.data)}`);
    });
    try {
      await call(client, 'shell_start', { command: 'sleep 600' });
      const first = await idOf(client);
      // Idle 1 s lets go of the sandbox, then the TTL of 1 s ends it with its process.
      await new Promise((r) => setTimeout(r, 4000));
      const r = await call(client, 'shell_list');
      expect(text(r)).toMatch(/workspace "idler" was restarted.*processes are gone/);
      expect(await idOf(client)).not.toBe(first);

      await call(client, 'shell_exec', { command: 'kill -9 -1' });
      expect(text(await call(client, 'shell_exec', { command: 'true' }))).toMatch(/was restarted/);
      await waitFor(() => heard.some((m) => /^warning: .*workspace "idler" was restarted/.test(m)), 5000);
    } finally {
      await client.close();
    }
  });

  it('at SANDBOX_MAX_SANDBOXES, says when a workspace sandbox no session holds takes the slot, and until when', async () => {
    const server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_MAX_SANDBOXES: '1',
      SANDBOX_WORKSPACE_TTL: '600',
    });
    try {
      const ws = await httpClient(server.url, { 'Sandbox-Workspace': 'slot' });
      await sh(ws.client, 'true');
      await ws.transport.terminateSession();
      const plain = await httpClient(server.url);
      const r = await call(plain.client, 'shell_exec', { command: 'true' });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(
        /1 sandboxes, its limit.*1 of them belong to named workspaces with no session attached.*SANDBOX_WORKSPACE_TTL/,
      );
    } finally {
      await server.stop();
    }
  });

  it('a workspace session deleted during a call gets its answer, and the command stops (the sandbox lives on)', async () => {
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
    try {
      const a = await httpClient(server.url, { 'Sandbox-Workspace': 'gone' });
      await sh(a.client, 'true');
      const running = call(a.client, 'shell_exec', { command: 'sleep 60; : ws-deleted-call' }).then(
        text,
        (e: Error) => `threw ${e.message}`,
      );
      await waitFor(async () => (await hostProcessesWith('ws-deleted-call')).length > 0, 5000);
      await a.transport.terminateSession();
      expect(await Promise.race([running, new Promise((r) => setTimeout(() => r('no answer'), 3000))])).toMatch(
        /shell_exec was stopped: this session ended while it ran/,
      );
      await waitFor(async () => (await hostProcessesWith('ws-deleted-call')).length === 0, 5000);
    } finally {
      await server.stop();
    }
  });

  it('keeps the sandbox for the longest SANDBOX_WORKSPACE_TTL it accepts, and refuses longer ones a timer cannot hold', async () => {
    const refused = spawnSync(process.execPath, [CLI], {
      env: { PATH: process.env.PATH, SANDBOX_STATE_DIR: state.dir, SANDBOX_WORKSPACE_TTL: String(30 * 86400) },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/SANDBOX_WORKSPACE_TTL/);
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_WORKSPACE_TTL: String(24 * 86400) });
    try {
      const first = await httpClient(server.url, { 'Sandbox-Workspace': 'long' });
      const id = await idOf(first.client);
      await first.transport.terminateSession();
      await new Promise((r) => setTimeout(r, 1500));
      const second = await httpClient(server.url, { 'Sandbox-Workspace': 'long' });
      expect(await idOf(second.client)).toBe(id);
      expect(server.logs.join('\n')).not.toMatch(/TimeoutOverflowWarning/);
    } finally {
      await server.stop();
    }
  });
});

if (dockerSkip) console.warn(`[workspaces-review docker] skipped: ${dockerSkip}`);

describe.skipIf(!!dockerSkip)('named workspaces under stress (docker provider)', () => {
  let state: ReturnType<typeof tempDir>;
  beforeAll(() => {
    state = tempDir('sbx-ws-review-docker-');
  });
  afterAll(async () => {
    try {
      if (state) await expectNoContainersLeft(state.dir);
    } finally {
      const vols = execFileSync('docker', ['volume', 'ls', '-q', '--filter', `label=${stateLabel(state.dir)}`], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean);
      if (vols.length) execFileSync('docker', ['volume', 'rm', '-f', ...vols]);
      state?.cleanup();
    }
  });
  const env = () =>
    dockerEnv(state.dir, {
      SANDBOX_DOCKER_IMAGE: DOCKER_IMAGE,
      SANDBOX_WORKSPACE_TTL: '60',
      SANDBOX_MEMORY_MB: '1024',
      SANDBOX_PIDS_MAX: '1024',
    });

  it('the browsers of two sessions of one workspace do not replace each other', async () => {
    const server = await startHttpServer(env());
    try {
      const a = await httpClient(server.url, { 'Sandbox-Workspace': 'browse' });
      const b = await httpClient(server.url, { 'Sandbox-Workspace': 'browse' });
      await serveInSandbox(a.client, 8080, { 'index.html': '<title>t</title><h1>Shared page</h1>' });
      expect(snapshotOf(await call(a.client, 'browser_navigate', { url: 'http://localhost:8080/' }))).toContain(
        'Shared page',
      );
      expect(snapshotOf(await call(b.client, 'browser_navigate', { url: 'http://localhost:8080/' }))).toContain(
        'Shared page',
      );
      for (const c of [a, b]) {
        const snap = await call(c.client, 'browser_snapshot');
        expect(text(snap)).not.toMatch(/previous browser stopped/);
        expect(snapshotOf(snap)).toContain('Shared page');
      }
    } finally {
      await server.stop();
    }
  });

  it('a crashed workspace container is removed when the next call replaces it, files kept', async () => {
    const server = await startHttpServer(env());
    try {
      const a = await httpClient(server.url, { 'Sandbox-Workspace': 'crashy' });
      await sh(a.client, 'echo kept > k.txt');
      const [container] = managedContainers(stateLabel(state.dir));
      execFileSync('docker', ['kill', container!.split(' ')[0]!]);
      // The first call may learn of the death itself; the next one runs in a fresh container.
      await call(a.client, 'shell_exec', { command: 'true' });
      const r = await call(a.client, 'shell_exec', { command: 'cat k.txt' });
      expect(r.structuredContent!.stdout).toBe('kept\n');
      await waitFor(() => managedContainers(stateLabel(state.dir)).length === 1, 10_000).catch(() => undefined);
      expect(managedContainers(stateLabel(state.dir))).toEqual([expect.stringMatching(/ running$/)]);
    } finally {
      await server.stop();
    }
  });

  it('on SIGTERM, a call running in a workspace sandbox is answered that it was stopped, not left hanging', async () => {
    const server = await startHttpServer({ ...env(), SANDBOX_SHUTDOWN_GRACE: '1' });
    try {
      const a = await httpClient(server.url, { 'Sandbox-Workspace': 'term' });
      await sh(a.client, 'true');
      const running = call(a.client, 'shell_exec', { command: 'sleep 30' }).then(
        text,
        (e: Error) => `threw ${e.message}`,
      );
      await new Promise((r) => setTimeout(r, 500));
      expect(await server.stop()).toBe(0);
      const answer = await Promise.race([running, new Promise((r) => setTimeout(() => r('no answer'), 3000))]);
      expect(answer).toMatch(/shell_exec was stopped: this session ended while it ran/);
    } finally {
      await server.stop();
    }
  });

  it("a stdio and an HTTP server on one state dir each run their own sandbox of a workspace: one leaving does not kill the other's", async () => {
    const server = await startHttpServer(env());
    try {
      const h = await httpClient(server.url, { 'Sandbox-Workspace': 'both' });
      await call(h.client, 'shell_start', { command: 'sleep 600' });
      const s = await stdioClient({ ...env(), SANDBOX_WORKSPACE: 'both' });
      await sh(s.client, 'echo from-stdio > shared.txt');
      expect(await idOf(s.client)).not.toBe(await idOf(h.client));
      await s.client.close();
      const r = await call(h.client, 'shell_exec', { command: 'cat shared.txt' });
      expect(r.isError).toBeFalsy();
      expect(text(r)).not.toMatch(/restarted/);
      expect(r.structuredContent!.stdout).toBe('from-stdio\n');
      const procs = (await call(h.client, 'shell_list')).structuredContent!.processes as { running: boolean }[];
      expect(procs.some((p) => p.running)).toBe(true);
      // SIGTERM with one workspace sandbox held and one with no session attached: no container stays.
      const idle = await httpClient(server.url, { 'Sandbox-Workspace': 'unheld' });
      await sh(idle.client, 'true');
      await idle.transport.terminateSession();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
