import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, CLI, httpClient, sh, startHttpServer, tempDir, text, waitFor, type HttpServer } from './helpers.js';
import { fetchHost, WS_ECHO_SERVER, wsRoundTrip } from './web-helpers.js';

const TOKEN = 'public-url-test-token-0123456789';

/** A server that clients reach through a reverse proxy at https://sbx.test (the proxy keeps Host). */
describe('preview and site URLs under SANDBOX_PUBLIC_URL', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  let client: Client;

  beforeAll(async () => {
    state = tempDir('sbx-public-');
    server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_PUBLIC_URL: 'https://SBX.test/',
      SANDBOX_MCP_AUTH_TOKEN: TOKEN,
    });
    ({ client } = await httpClient(server.url, { authorization: `Bearer ${TOKEN}` }));
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    state?.cleanup();
  });

  it('hands out previews under the public domain, served by the same listener, WebSockets included', async () => {
    await sh(client, `cat > ws.js <<'JS'\n${WS_ECHO_SERVER}\nJS`);
    await call(client, 'shell_start', { command: 'PORT=5055 node ws.js' });
    const r = await waitFor(
      async () => {
        const x = await call(client, 'expose_port', { port: 5055 });
        return x.isError ? false : x;
      },
      20_000,
      300,
    );
    const url = r.structuredContent!.url as string;
    const id = (await call(client, 'sandbox_info')).structuredContent!.id as string;
    expect(url).toBe(`https://5055-${id}.sbx.test/`);
    const host = new URL(url).host;
    const page = await fetchHost(server.port, host, '/', { 'x-forwarded-proto': 'https' });
    expect(page.status).toBe(200);
    expect(page.body).toBe('plain http on the ws server');
    expect((await wsRoundTrip(server.port, host, 'hi')).reply).toBe('echo:hi');
    // The local form keeps working on this machine.
    expect((await fetchHost(server.port, `5055-${id}.localhost:${server.port}`)).body).toBe(
      'plain http on the ws server',
    );
  });

  it("tells a dev server its public preview URL in PREVIEW_URL (what Vite's allowedHosts is built from)", async () => {
    expect((await call(client, 'webdev_create', { name: 'echo-url', template: 'static' })).isError).toBeFalsy();
    const started = await call(client, 'webdev_start', {
      name: 'echo-url',
      port: 5077,
      command: `node -e "require('http').createServer((q,s)=>s.end(String(process.env.PREVIEW_URL))).listen(process.env.PORT)"`,
    });
    expect(started.isError, text(started)).toBeFalsy();
    const url = started.structuredContent!.url as string;
    expect(url).toMatch(/^https:\/\/5077-[a-z0-9]+\.sbx\.test\/$/);
    expect((await fetchHost(server.port, new URL(url).host)).body).toBe(url);
    await call(client, 'webdev_stop', { name: 'echo-url' });
  });

  it('hands out site URLs under the public domain; forged names under it 404', async () => {
    await sh(client, 'mkdir -p pub && echo "<h1>public site</h1>" > pub/index.html');
    const r = await call(client, 'deploy_site', { path: 'pub', name: 'pubsite' });
    expect(r.isError, text(r)).toBeFalsy();
    expect(r.structuredContent!.url).toBe('https://pubsite.site.sbx.test/');
    expect((await fetchHost(server.port, 'pubsite.site.sbx.test')).body).toContain('public site');
    for (const forged of ['nosuch.site.sbx.test', `5055-${'a'.repeat(20)}.sbx.test`, '5055-.sbx.test']) {
      expect((await fetchHost(server.port, forged)).status, forged).toBe(404);
    }
    await call(client, 'deploy_delete', { name: 'pubsite' });
  });

  it('accepts the public host for /mcp (with the token) and still refuses other hosts and origins', async () => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    const post = (headers: Record<string, string>) => fetchHostPost(server.port, body, headers);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect(await post({ host: 'sbx.test', ...auth })).toBe(200);
    expect(await post({ host: 'sbx.test' })).toBe(401);
    expect(await post({ host: 'evil.test', ...auth })).toBe(403);
    expect(await post({ host: 'sbx.test', origin: 'https://sbx.test', ...auth })).toBe(200);
    // A deployed site is another origin: its scripts must not drive the server.
    expect(await post({ host: 'sbx.test', origin: 'https://pubsite.site.sbx.test', ...auth })).toBe(403);
  });
});

async function fetchHostPost(port: number, body: string, headers: Record<string, string>): Promise<number> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('SANDBOX_PUBLIC_URL validation', () => {
  const start = (env: Record<string, string>, args: string[] = []) =>
    spawnSync(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, ...env },
      encoding: 'utf8',
      timeout: 20_000,
      input: '',
    });

  it.each([
    ['ftp://sbx.test', /SANDBOX_PUBLIC_URL.*must be http/],
    ['https://127.0.0.5', /SANDBOX_PUBLIC_URL.*DNS name/],
    ['https://sbx.test/app', /SANDBOX_PUBLIC_URL.*no path/],
  ])('refuses %s with a message naming the option', (value, message) => {
    const r = start({ SANDBOX_PUBLIC_URL: value });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('refuses to serve HTTP under a public URL without an auth token', () => {
    const r = start({ SANDBOX_PUBLIC_URL: 'https://sbx.test' }, ['--port', '0']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/SANDBOX_PUBLIC_URL.*SANDBOX_MCP_AUTH_TOKEN/);
  });
});
