import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_IMAGE, dockerEnv, dockerSkip, expectNoContainersLeft } from './docker-env.js';
import {
  call,
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
import { chromiumMissing } from './browser-helpers.js';
import { fetchHost, hostOf, INIT, MCP_HEADERS, rawRequest } from './web-helpers.js';

/** Named workspaces: sessions that name one share its sandbox, which outlives them by the workspace TTL. */

type Info = { id: string; workspace: { name: string; sessions: number; ttlS: number } | null };
const info = async (c: Client) => (await call(c, 'sandbox_info')).structuredContent as unknown as Info;

describe('named workspaces over HTTP (local provider)', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  const open: { client: Client; transport: StreamableHTTPClientTransport }[] = [];
  const connect = async (workspace?: { header?: string; query?: string }) => {
    const url = workspace?.query ? `${server.url}?workspace=${workspace.query}` : server.url;
    const c = await httpClient(url, workspace?.header ? { 'Sandbox-Workspace': workspace.header } : {});
    open.push(c);
    return c;
  };
  const leave = async (c: { client: Client; transport: StreamableHTTPClientTransport }) => {
    await c.transport.terminateSession();
    await c.client.close();
  };

  beforeAll(async () => {
    state = tempDir('sbx-ws-');
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_WORKSPACE_TTL: '3' });
  });
  afterAll(async () => {
    for (const c of open) await c.client.close().catch(() => undefined);
    await server?.stop();
    state?.cleanup();
  });

  it('sessions naming one workspace share its sandbox (header or ?workspace=); a session naming none has its own', async () => {
    const a = await connect({ header: 'proj' });
    const b = await connect({ query: 'proj' });
    const c = await connect();
    await sh(a.client, 'echo from-a > shared.txt');
    expect((await sh(b.client, 'cat shared.txt')).stdout).toBe('from-a\n');
    expect((await sh(c.client, 'cat shared.txt 2>&1; true')).stdout).toMatch(/No such file/);
    const [ia, ib, ic] = [await info(a.client), await info(b.client), await info(c.client)];
    expect(ib.id).toBe(ia.id);
    expect(ic.id).not.toBe(ia.id);
    expect(ib.workspace).toEqual({ name: 'proj', sessions: 2, ttlS: 3 });
    expect(ic.workspace).toBeUndefined();
    expect(text(await call(a.client, 'sandbox_info'))).toMatch(/workspace "proj": shared by 2 session/);
    // Three sessions, two sandboxes: the workspace's and the unbound session's own.
    expect(JSON.parse((await rawRequest(server.port, { path: '/healthz' })).body)).toMatchObject({
      sessions: 3,
      sandboxes: 2,
      workspaces: 1,
    });
    await leave(a);
    await leave(b);
    await leave(c);
  });

  it('outlives its sessions: a later session finds its running processes; with none attached it ends after the TTL, files kept', async () => {
    const marker = `ws-marker-${Date.now()}`;
    const first = await connect({ header: 'keep' });
    await sh(first.client, 'echo kept > notes.txt');
    await call(first.client, 'shell_start', { command: `sleep 600; : ${marker}` });
    await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 5000);
    const firstId = (await info(first.client)).id;
    await leave(first);

    const second = await connect({ header: 'keep' });
    expect((await info(second.client)).id).toBe(firstId);
    const procs = (await call(second.client, 'shell_list')).structuredContent!.processes as {
      command: string;
      running: boolean;
    }[];
    expect(procs.find((p) => p.command.includes(marker))).toMatchObject({ running: true });
    await leave(second);

    // No session holds it now: after SANDBOX_WORKSPACE_TTL (3 s) its processes end.
    await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 15_000);
    const third = await connect({ header: 'keep' });
    const i3 = await info(third.client);
    expect(i3.id).not.toBe(firstId);
    expect((await sh(third.client, 'cat notes.txt')).stdout).toBe('kept\n');
    await leave(third);
  });

  it('a preview of a workspace sandbox keeps answering after the session that opened it left', async () => {
    const a = await connect({ header: 'web' });
    await call(a.client, 'shell_start', {
      command:
        'mkdir -p site && echo hello-ws > site/index.html && cd site && exec python3 -m http.server 8123 --bind 127.0.0.1',
    });
    const exposed = await waitFor(async () => {
      const r = await call(a.client, 'expose_port', { port: 8123 });
      return r.isError ? undefined : r;
    }, 15_000);
    const { port, host } = hostOf(exposed.structuredContent!.url as string);
    await leave(a);
    const page = await fetchHost(port, host);
    expect(page.status).toBe(200);
    expect(page.body).toBe('hello-ws\n');
  });

  it('refuses an invalid workspace name at initialize, naming the header and the rule', async () => {
    for (const bad of ['../etc', 'UPPER', 'a'.repeat(41)]) {
      const r = await rawRequest(server.port, {
        method: 'POST',
        path: '/mcp',
        headers: { ...MCP_HEADERS, 'sandbox-workspace': bad },
        body: INIT,
      });
      expect(r.status).toBe(400);
      expect(r.body).toMatch(/Sandbox-Workspace header.*not valid.*lowercase letters, digits/);
    }
    const q = await rawRequest(server.port, {
      method: 'POST',
      path: '/mcp?workspace=has%20space',
      headers: MCP_HEADERS,
      body: INIT,
    });
    expect(q.status).toBe(400);
    const both = await rawRequest(server.port, {
      method: 'POST',
      path: '/mcp?workspace=one',
      headers: { ...MCP_HEADERS, 'sandbox-workspace': 'two' },
      body: INIT,
    });
    expect(both.status).toBe(400);
    expect(both.body).toMatch(/two workspace names.*two.*Sandbox-Workspace.*one.*one place only/);
  });
});

describe('SANDBOX_WORKSPACE over stdio (local provider)', () => {
  let state: ReturnType<typeof tempDir>;
  beforeAll(() => {
    state = tempDir('sbx-ws-stdio-');
  });
  afterAll(() => state?.cleanup());

  it('keeps the workspace files across server restarts, in the state dir', async () => {
    const env = { SANDBOX_STATE_DIR: state.dir, SANDBOX_WORKSPACE: 'notes' };
    const first = await stdioClient(env);
    await sh(first.client, 'mkdir -p src && echo persisted > src/a.txt');
    expect((await info(first.client)).workspace).toMatchObject({ name: 'notes', sessions: 1 });
    await first.client.close();
    // As root, the disk cap keeps a workspace in an ext4 image; otherwise in a plain folder.
    const kept =
      process.getuid?.() === 0
        ? path.join('workspaces', 'notes.img')
        : path.join('workspaces', 'notes', 'src', 'a.txt');
    expect(existsSync(path.join(state.dir, kept))).toBe(true);

    const second = await stdioClient(env);
    expect((await sh(second.client, 'cat src/a.txt; pwd')).stdout).toBe('persisted\n/workspace\n');
    await second.client.close();
    // Without the option, a session starts empty.
    const plain = await stdioClient({ SANDBOX_STATE_DIR: state.dir });
    expect((await sh(plain.client, 'ls -A | wc -l')).stdout.trim()).toBe('0');
    await plain.client.close();
  });

  it('refuses to start with an invalid SANDBOX_WORKSPACE, naming it', async () => {
    let out = '';
    try {
      execFileSync(process.execPath, [path.resolve('dist/cli.js')], {
        env: { PATH: process.env.PATH, SANDBOX_WORKSPACE: 'Bad Name' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      out = String((e as { stderr?: string }).stderr);
    }
    expect(out).toMatch(/SANDBOX_WORKSPACE.*lowercase letters, digits/);
  });
});

if (dockerSkip) console.warn(`[workspaces docker] skipped: ${dockerSkip}`);

describe.skipIf(!!dockerSkip)('SANDBOX_WORKSPACE on docker', () => {
  let state: ReturnType<typeof tempDir>;
  let volume = '';
  beforeAll(() => {
    state = tempDir('sbx-ws-docker-');
  });
  afterAll(async () => {
    try {
      if (state) await expectNoContainersLeft(state.dir);
    } finally {
      if (volume) execFileSync('docker', ['volume', 'rm', '-f', volume]);
      state?.cleanup();
    }
  });

  it('keeps /workspace in a named volume across containers and server restarts', async () => {
    const env = dockerEnv(state.dir, { SANDBOX_WORKSPACE: 'proj', SANDBOX_DOCKER_IMAGE: DOCKER_IMAGE });
    const first = await stdioClient(env);
    await sh(first.client, 'echo in-volume > kept.txt');
    await first.client.close();
    volume = execFileSync(
      'docker',
      [
        'volume',
        'ls',
        '-q',
        '--filter',
        'label=sandbox-mcp.workspace=proj',
        '--filter',
        `label=sandbox-mcp.state=${(await import('node:crypto')).createHash('sha256').update(state.dir).digest('hex').slice(0, 16)}`,
      ],
      { encoding: 'utf8' },
    ).trim();
    expect(volume).toMatch(/^sandbox-mcp-ws-[0-9a-f]{16}-proj$/);
    await expectNoContainersLeft(state.dir); // the container went with the server; the volume stayed

    const second = await stdioClient(env);
    expect((await sh(second.client, 'cat kept.txt; id -u; stat -c %u /workspace')).stdout).toBe(
      'in-volume\n1000\n1000\n',
    );
    await second.client.close();
  });
});

describe('a workspace session that goes idle (local provider)', () => {
  let state: ReturnType<typeof tempDir>;
  beforeAll(() => {
    state = tempDir('sbx-ws-idle-');
  });
  afterAll(() => state?.cleanup());

  it.skipIf(!!chromiumMissing())(
    'closes its Chromium (the shared sandbox lives on), and the next browser call says so',
    async () => {
      const { client } = await stdioClient({
        SANDBOX_STATE_DIR: state.dir,
        SANDBOX_WORKSPACE: 'idle',
        SANDBOX_IDLE_TIMEOUT: '2',
      });
      try {
        const id = (await info(client)).id;
        const nav = await call(client, 'browser_navigate', { url: 'data:text/html,<h1>hello</h1>' });
        expect(nav.isError).toBeFalsy();
        expect((await hostProcessesWith(`--sandbox-mcp-id=${id}`)).length).toBeGreaterThan(0);
        await waitFor(async () => (await hostProcessesWith(`--sandbox-mcp-id=${id}`)).length === 0, 15_000);
        const snap = await call(client, 'browser_navigate', { url: 'data:text/html,<h1>again</h1>' });
        expect(snap.isError).toBeFalsy();
        expect(text(snap)).toMatch(/browser was closed while this session was idle/);
        expect((await info(client)).id).toBe(id); // the same sandbox: only the session's hold lapsed
      } finally {
        await client.close();
      }
    },
    60_000,
  );
});
