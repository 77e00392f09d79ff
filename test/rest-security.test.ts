import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolationSkipReason, startHttpServer, tempDir, type HttpServer } from './helpers.js';
import { expectError, restClient } from './rest-helpers.js';
import { rawRequest } from './web-helpers.js';

/** The REST API as an attacker sees it: tokens, foreign handles, origins, bodies, paths, parser tricks. */

const TOKEN = 'rest-sec-token-0123456789';
const OTHER_TOKEN = 'rest-sec-other-0123456789';
const APP_ORIGIN = 'https://app.example.com';
const MAX_BODY = 65536;
const SECRET = `rest-host-secret-${process.pid}-${Date.now()}`;
const noIsolation = isolationSkipReason('bwrap') && isolationSkipReason('unshare');

/** A request whose body arrives in pieces, with no Content-Length (chunked): the cap is counted as it comes. */
function chunkedPut(port: number, urlPath: string, pieces: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'PUT', path: urlPath, headers: { authorization: `Bearer ${TOKEN}` } },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    for (const piece of pieces) req.write(piece);
    req.end();
  });
}

(noIsolation ? describe.skip : describe)('REST API under attack', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  let host: ReturnType<typeof tempDir>;
  let hostFile: string;
  let api: ReturnType<typeof restClient>;
  let id: string;

  beforeAll(async () => {
    state = tempDir('sbx-rest-sec-');
    host = tempDir('sbx-rest-host-');
    hostFile = path.join(host.dir, 'marker.txt');
    writeFileSync(hostFile, `${SECRET}\n`);
    mkdirSync(path.join(host.dir, 'folder'));
    server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_MCP_AUTH_TOKEN: TOKEN,
      SANDBOX_ALLOWED_ORIGINS: APP_ORIGIN,
      SANDBOX_MAX_BODY: String(MAX_BODY),
      SANDBOX_REQUEST_TIMEOUT: '2',
    });
    api = restClient(server.url, TOKEN);
    ({ id } = await api.create());
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    state?.cleanup();
    host?.cleanup();
  });

  it('no token or a wrong one: 401 JSON on every route, the document included', async () => {
    for (const token of [null, 'wrong-token-0123456789']) {
      for (const route of ['/api/openapi.json', `/api/sandboxes/${id}`, '/api/nothing']) {
        const r = await api.call(route, { token });
        expectError(r, 401, 'AUTH');
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
        expect(r.json.error.hint).toMatch(/Authorization: Bearer/);
      }
      expectError(await api.call('/api/sandboxes', { json: {}, token }), 401, 'AUTH');
      expectError(await api.call(`/api/sandboxes/${id}`, { method: 'DELETE', token }), 401, 'AUTH');
    }
    expect((await api.call(`/api/sandboxes/${id}`)).json.status).toBe('running');
  });

  it("another token's handle is refused (403) on a server sharing the state dir and handle key", async () => {
    const other = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_MCP_AUTH_TOKEN: OTHER_TOKEN });
    try {
      const otherApi = restClient(other.url, OTHER_TOKEN);
      const r = await otherApi.call(`/api/sandboxes/${id}/exec`, { json: { command: 'echo reached > reached.txt' } });
      expectError(r, 403, 'PERMISSION_DENIED', /another bearer token/);
      expectError(await otherApi.call(`/api/sandboxes/${id}`, { method: 'DELETE' }), 403, 'PERMISSION_DENIED');
      expect((await api.exec(id, 'ls reached.txt 2>&1; true')).stdout).toMatch(/No such file/);
      expect((await api.call(`/api/sandboxes/${id}`)).status).toBe(200);
    } finally {
      await other.stop();
    }
  }, 60_000);

  it('Host and Origin are checked as for /mcp; a preview page or a foreign site cannot call the API', async () => {
    const badHost = await rawRequest(server.port, {
      path: `/api/sandboxes/${id}`,
      headers: { host: 'evil.example', authorization: `Bearer ${TOKEN}` },
    });
    expect(badHost.status).toBe(403);
    expect(JSON.parse(badHost.body).error.code).toBe('PERMISSION_DENIED');
    const preview = (await api.call(`/api/sandboxes/${id}`)).json.previewHost.replace('{port}', '8000');
    for (const origin of ['https://evil.example', `http://${preview}`, 'null']) {
      const r = await api.call(`/api/sandboxes/${id}`, { headers: { origin } });
      expectError(r, 403, 'PERMISSION_DENIED', /Origin/);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('CORS: preflight granted to the listed origin only (echoed, never *); loopback pages get no grant', async () => {
    const preflight = (origin: string) =>
      api.call(`/api/sandboxes/${id}/exec`, {
        method: 'OPTIONS',
        token: null,
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
    const granted = await preflight(APP_ORIGIN);
    expect(granted.status).toBe(204);
    expect(granted.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(granted.headers.get('access-control-allow-methods')).toBe('POST');
    expect(granted.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(granted.headers.get('vary')).toMatch(/origin/i);
    const local = await preflight('http://localhost:5173');
    expectError(local, 403, 'PERMISSION_DENIED', /not granted/);
    expect(local.headers.get('access-control-allow-origin')).toBeNull();
    expectError(await preflight('https://evil.example'), 403, 'PERMISSION_DENIED');
    const actual = await api.call(`/api/sandboxes/${id}`, { headers: { origin: APP_ORIGIN } });
    expect(actual.status).toBe(200);
    expect(actual.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    const loopback = await api.call(`/api/sandboxes/${id}`, { headers: { origin: 'http://localhost:5173' } });
    expect(loopback.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('bodies over SANDBOX_MAX_BODY get 413 (declared or chunked) and write nothing', async () => {
    const big = Buffer.alloc(MAX_BODY + 4096, 'a');
    const r = await api.put(id, 'big.bin', big);
    expectError(r, 413, 'LIMIT_EXCEEDED', new RegExp(`${MAX_BODY} bytes`));
    expect(r.json.error.hint).toMatch(/SANDBOX_MAX_BODY/);
    const chunked = await chunkedPut(
      server.port,
      `/api/sandboxes/${id}/files/content?path=chunked.bin`,
      Array.from({ length: 20 }, () => Buffer.alloc(8192, 'b')),
    );
    expect(chunked.status).toBe(413);
    const exec = await api.call(`/api/sandboxes/${id}/exec`, { json: { command: `echo ${'x'.repeat(MAX_BODY)}` } });
    expectError(exec, 413, 'LIMIT_EXCEEDED');
    expect((await api.exec(id, 'ls big.bin chunked.bin 2>&1; true')).stdout).toMatch(/No such file.*\n.*No such file/);
    // Just under the cap is fine.
    expect((await api.put(id, 'fits.bin', Buffer.alloc(MAX_BODY - 1, 'c'))).json.size).toBe(MAX_BODY - 1);
  });

  it('a body sent too slowly is cut off at SANDBOX_REQUEST_TIMEOUT and writes nothing', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const started = Date.now();
    socket.write(
      `PUT /api/sandboxes/${id}/files/content?path=slow.txt HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
        `Authorization: Bearer ${TOKEN}\r\nContent-Length: 1000\r\n\r\nonly-a-little`,
    );
    let answer = '';
    socket.on('data', (d) => (answer += d));
    await new Promise((r) => socket.once('close', r));
    expect(Date.now() - started).toBeLessThan(8000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect((await api.exec(id, 'ls slow.txt 2>&1; true')).stdout).toMatch(/No such file/);
  });

  it('?path= never reaches host files: .., absolute host paths and symlinks resolve inside the sandbox', async () => {
    await api.exec(id, `ln -s ${hostFile} hostlink && ln -s ${host.dir} hostdir && ln -s / rootlink`);
    for (const p of [
      hostFile,
      `../../../../../..${hostFile}`,
      'hostlink',
      'hostdir/marker.txt',
      `rootlink${hostFile}`,
    ]) {
      const r = await api.get(id, p);
      expect(r.bytes.toString(), p).not.toContain(SECRET);
      expectError(r, 404, 'NOT_FOUND');
    }
    const listed = await api.call(`/api/sandboxes/${id}/files?path=${encodeURIComponent(host.dir)}`);
    expect(JSON.stringify(listed.json)).not.toContain('marker.txt');
    for (const p of [`../../../..${host.dir}/created.txt`, 'hostdir/created.txt', `${host.dir}/folder/created.txt`]) {
      await api.put(id, p, 'should stay in the sandbox');
      expect(existsSync(path.join(host.dir, 'created.txt')), p).toBe(false);
      expect(existsSync(path.join(host.dir, 'folder', 'created.txt')), p).toBe(false);
    }
    const passwd = await api.get(id, 'rootlink/etc/passwd');
    expect(passwd.bytes.toString()).toContain('sandbox user');
  });

  it('JSON and query keys like __proto__ are refused, not merged', async () => {
    for (const body of [
      '{"__proto__": {"workspace": "polluted"}}',
      '{"constructor": {"prototype": {"workspace": "polluted"}}}',
    ]) {
      const r = await api.call('/api/sandboxes', { body, headers: { 'content-type': 'application/json' } });
      expectError(r, 400, 'INVALID_ARGUMENT', /__proto__|constructor/);
    }
    const q = await api.call(`/api/sandboxes/${id}/files?__proto__=x`);
    expectError(q, 400, 'INVALID_ARGUMENT', /__proto__/);
    expect((await api.create()).workspace).toBeNull();
  });

  it('method override headers and ?_method= are ignored: only the request line counts', async () => {
    const overridden = await api.call(`/api/sandboxes/${id}`, {
      method: 'POST',
      json: {},
      headers: { 'x-http-method-override': 'DELETE', 'x-method-override': 'DELETE' },
    });
    expectError(overridden, 405, 'UNSUPPORTED');
    expectError(await api.call(`/api/sandboxes/${id}?_method=DELETE`), 400, 'INVALID_ARGUMENT', /_method/);
    expect((await api.call(`/api/sandboxes/${id}`)).json.status).toBe('running');
  });

  it("a sandbox's HTML is served inert: nosniff and a sandboxing CSP, so it never runs as this origin", async () => {
    await api.put(id, 'page.html', '<script>fetch("/api/sandboxes",{method:"POST"})</script>');
    const r = await api.get(id, 'page.html');
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('content-security-policy')).toMatch(/sandbox/);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });
});
