import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, httpClient, sh, startHttpServer, tempDir, text, waitFor, type HttpServer } from './helpers.js';
import { fetchHost, hostOf, WS_ECHO_SERVER, wsRoundTrip } from './web-helpers.js';

const PREVIEW_URL = /^http:\/\/(\d+)-([a-z2-7]{20})\.localhost:(\d+)\/$/;

describe('webdev tools and preview URLs over HTTP', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  let client: Client;
  let other: { client: Client; transport: StreamableHTTPClientTransport };

  beforeAll(async () => {
    state = tempDir('sbx-webdev-');
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_WEBDEV_START_TIMEOUT: '40' });
    ({ client } = await httpClient(server.url));
    other = await httpClient(server.url);
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await other?.client.close();
    await server?.stop();
    state?.cleanup();
  });

  it('lists the shipped templates', async () => {
    const r = await call(client, 'webdev_templates');
    const names = (r.structuredContent!.templates as { name: string; needsInstall: boolean }[]).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['static', 'node-server', 'vite-react']));
  });

  it('static: create, start, preview from the host, build', async () => {
    const created = await call(client, 'webdev_create', { name: 'site', template: 'static' });
    expect(created.isError).toBeFalsy();
    expect(created.structuredContent).toMatchObject({ path: '/workspace/site', template: 'static' });
    const started = await call(client, 'webdev_start', { name: 'site' });
    expect(started.isError, text(started)).toBeFalsy();
    const url = started.structuredContent!.url as string;
    expect(url).toMatch(PREVIEW_URL);
    expect(Number(PREVIEW_URL.exec(url)![3])).toBe(server.port);
    const { port, host } = hostOf(url);
    const page = await fetchHost(port, host, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('Hello from a static site');
    const css = await fetchHost(port, host, '/style.css');
    expect(css.body).toContain('font-family');
    const built = await call(client, 'webdev_build', { name: 'site' });
    expect(built.structuredContent).toMatchObject({ exitCode: 0, outputDir: '/workspace/site/dist' });
    expect((await sh(client, 'ls site/dist')).stdout.split('\n')).toContain('index.html');
    // A folder with an index.html is a site: the answer says how to publish it.
    expect(text(built)).toContain('Publish it with deploy_site {"path": "/workspace/site/dist", "name": "site"}');
  });

  it('webdev_build of a server (no index.html in its output) does not suggest publishing it as a site', async () => {
    expect((await call(client, 'webdev_create', { name: 'backend', template: 'node-server' })).isError).toBeFalsy();
    const built = await call(client, 'webdev_build', { name: 'backend' });
    expect(built.structuredContent).toMatchObject({ exitCode: 0, outputDir: '/workspace/backend/dist' });
    expect(text(built)).not.toContain('Publish it with');
    expect(text(built)).toContain('has no index.html, so it is not a static site');
  });

  it('node-server: start, fetch an API route, logs, list, stop; the URL then 404s', async () => {
    expect((await call(client, 'webdev_create', { name: 'api', template: 'node-server' })).isError).toBeFalsy();
    const started = await call(client, 'webdev_start', { name: 'api', port: 3100 });
    expect(started.isError, text(started)).toBeFalsy();
    const { port, host } = hostOf(started.structuredContent!.url as string);
    expect(host.startsWith('3100-')).toBe(true);
    const api = await fetchHost(port, host, '/api/hello');
    expect(api.status).toBe(200);
    expect(JSON.parse(api.body)).toMatchObject({ message: 'hello' });
    const logs = await call(client, 'webdev_logs', { name: 'api', tail: 5 });
    expect(logs.structuredContent!.logs).toContain('listening on http://localhost:3100/');
    const list = await call(client, 'webdev_list');
    const projects = list.structuredContent!.projects as { name: string; running: boolean; url: string | null }[];
    expect(projects.find((p) => p.name === 'api')).toMatchObject({
      running: true,
      url: started.structuredContent!.url,
    });
    expect(projects.find((p) => p.name === 'site')).toMatchObject({ running: true });
    const stopped = await call(client, 'webdev_stop', { name: 'api' });
    expect(stopped.structuredContent).toMatchObject({ stopped: true });
    const after = await fetchHost(port, host, '/api/hello');
    expect(after.status).toBe(404);
    expect(after.body).toMatch(/nothing is listening on port 3100/);
  });

  it('vite-react says clearly that it cannot install without network, and writes nothing', async () => {
    const r = await call(client, 'webdev_create', { name: 'spa', template: 'vite-react' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/npm install.*cannot reach it.*no network by default.*SANDBOX_NETWORK=egress/s);
    expect((await sh(client, 'test -e spa; echo $?')).stdout.trim()).toBe('1');
  });

  it('a dev server that dies gets an error with its last log lines, and no process is left', async () => {
    await call(client, 'webdev_create', { name: 'broken', template: 'node-server' });
    const r = await call(client, 'webdev_start', {
      name: 'broken',
      command: 'echo "Error: boom at startup" >&2; exit 3',
    });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/exited \(code 3\).*boom at startup/s);
    const procs = (await call(client, 'shell_list')).structuredContent!.processes as {
      name?: string;
      running: boolean;
    }[];
    expect(procs.filter((p) => p.name === 'webdev-broken' && p.running)).toEqual([]);
  });

  it('WebSocket upgrades go through the preview proxy', async () => {
    await sh(client, `cat > ws.js <<'JS'\n${WS_ECHO_SERVER}\nJS`);
    await call(client, 'shell_start', { command: 'PORT=9000 node ws.js', name: 'ws' });
    const exposed = await call(client, 'expose_port', { port: 9000 });
    expect(exposed.isError, text(exposed)).toBeFalsy();
    const { port, host } = hostOf(exposed.structuredContent!.url as string);
    const ws = await wsRoundTrip(port, host, 'hello');
    expect(ws).toEqual({ status: 'HTTP/1.1 101 Switching Protocols', accepted: true, reply: 'echo:hello' });
    expect((await fetchHost(port, host, '/')).body).toBe('plain http on the ws server');
  });

  it('expose_port: any server; a closed port and a bad port are clear errors', async () => {
    await call(client, 'shell_start', {
      command: `node -e "require('http').createServer((q,s)=>s.end('custom '+q.url)).listen(4567)"`,
    });
    const r = await waitFor(
      async () => {
        const x = await call(client, 'expose_port', { port: 4567 });
        return x.isError ? false : x;
      },
      20_000,
      300,
    );
    expect(r.structuredContent).toMatchObject({ port: 4567, url: expect.stringMatching(PREVIEW_URL) });
    const { port, host } = hostOf(r.structuredContent!.url as string);
    expect((await fetchHost(port, host, '/x?y=1')).body).toBe('custom /x?y=1');
    const closed = await call(client, 'expose_port', { port: 4599 });
    expect(closed.isError).toBe(true);
    expect(text(closed)).toMatch(/nothing is listening on port 4599 .*waited 3 s/);
    for (const bad of [0, 70000, 1.5]) {
      const x = await call(client, 'expose_port', { port: bad });
      expect(x.isError).toBe(true);
      expect(text(x)).toMatch(/port/);
    }
  });

  it("forged ids and ports get 404, never another session's content", async () => {
    // Both sessions serve different content on the same port of their own sandboxes.
    const mine = async (c: Client, word: string) => {
      await call(c, 'shell_start', {
        command: `node -e "require('http').createServer((q,s)=>s.end('${word}')).listen(7777)"`,
      });
      const r = await waitFor(
        async () => {
          const x = await call(c, 'expose_port', { port: 7777 });
          return x.isError ? false : x;
        },
        20_000,
        300,
      );
      return r.structuredContent!.url as string;
    };
    const urlA = await mine(client, 'secret-of-A');
    const urlB = await mine(other.client, 'secret-of-B');
    const a = PREVIEW_URL.exec(urlA)!;
    const b = PREVIEW_URL.exec(urlB)!;
    expect(a[2]).not.toBe(b[2]);
    expect((await fetchHost(server.port, hostOf(urlA).host)).body).toBe('secret-of-A');
    expect((await fetchHost(server.port, hostOf(urlB).host)).body).toBe('secret-of-B');
    const forged = [
      `7777-${'a'.repeat(20)}.localhost:${server.port}`,
      `7777-${a[2]!.slice(0, 19)}${a[2]!.endsWith('b') ? 'c' : 'b'}.localhost:${server.port}`, // one letter off
      `7777-${a[2]!.toUpperCase()}x.localhost:${server.port}`,
      `7778-${a[2]}.localhost:${server.port}`,
      `99999-${a[2]}.localhost:${server.port}`,
      `7777-${a[2]}-${b[2]}.localhost:${server.port}`,
      `7777-.localhost:${server.port}`,
      `x.site.localhost:${server.port}`,
    ];
    for (const host of forged) {
      const r = await fetchHost(server.port, host);
      expect(r.status, host).toBe(404);
      expect(r.body).not.toMatch(/secret-of/);
    }
    const ws = await wsRoundTrip(server.port, `7777-${'b'.repeat(20)}.localhost:${server.port}`, 'x');
    expect(ws.accepted).toBe(false);
    expect(ws.status).toMatch(/404/);
  });

  it('a preview dies with its sandbox (session end)', async () => {
    const info = await call(other.client, 'sandbox_info');
    const host = `7777-${info.structuredContent!.id as string}.localhost:${server.port}`;
    expect((await fetchHost(server.port, host)).status).toBe(200);
    await other.transport.terminateSession();
    await other.client.close();
    await waitFor(async () => (await fetchHost(server.port, host)).status === 404, 15_000, 200);
  });

  it('the MCP endpoint still refuses foreign origins beside previews', async () => {
    const r = await fetch(`http://127.0.0.1:${server.port}/mcp`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(r.status).toBe(403);
  });
});

describe('previews with the unshare fallback isolation', () => {
  it('static project preview answers through the port bridge', async () => {
    const state = tempDir('sbx-webdev-u-');
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_ISOLATION: 'unshare' });
    const { client } = await httpClient(server.url);
    try {
      expect((await call(client, 'webdev_create', { name: 'u', template: 'static' })).isError).toBeFalsy();
      const started = await call(client, 'webdev_start', { name: 'u', port: 8123 });
      expect(started.isError, text(started)).toBeFalsy();
      const { port, host } = hostOf(started.structuredContent!.url as string);
      expect((await fetchHost(port, host)).body).toContain('Hello from a static site');
      await sh(client, `cat > ws.js <<'JS'\n${WS_ECHO_SERVER}\nJS`);
      await call(client, 'shell_start', { command: 'PORT=9001 node ws.js' });
      const exposed = await call(client, 'expose_port', { port: 9001 });
      const ws = hostOf(exposed.structuredContent!.url as string);
      expect((await wsRoundTrip(ws.port, ws.host, 'hi')).reply).toBe('echo:hi');
    } finally {
      await client.close();
      await server.stop();
      state.cleanup();
    }
  });
});

describe('preview traffic and the idle timeout', () => {
  it('a preview in use keeps its sandbox alive; once unused, it is reaped and 404s', async () => {
    const state = tempDir('sbx-webdev-idle-');
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_IDLE_TIMEOUT: '3' });
    const { client } = await httpClient(server.url);
    try {
      await call(client, 'shell_start', {
        command: `node -e "require('http').createServer((q,s)=>s.end('alive')).listen(6060)"`,
      });
      const r = await waitFor(
        async () => {
          const x = await call(client, 'expose_port', { port: 6060 });
          return x.isError ? false : x;
        },
        20_000,
        300,
      );
      const { port, host } = hostOf(r.structuredContent!.url as string);
      for (let i = 0; i < 6; i++) {
        expect((await fetchHost(port, host)).body).toBe('alive');
        await new Promise((res) => setTimeout(res, 1000));
      }
      // Any request would count as use, so just wait past the idle timeout.
      await new Promise((res) => setTimeout(res, 5000));
      expect((await fetchHost(port, host)).status).toBe(404);
    } finally {
      await client.close();
      await server.stop();
      state.cleanup();
    }
  });
});
