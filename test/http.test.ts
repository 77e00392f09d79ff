import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INIT, MCP_HEADERS, rawRequest } from './web-helpers.js';
import {
  call,
  hostProcessesWith,
  httpClient,
  sh,
  startHttpServer,
  tempDir,
  waitFor,
  type HttpServer,
} from './helpers.js';

describe('streamable HTTP', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    state = tempDir();
    server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_MAX_BODY: '65536',
      SANDBOX_MAX_SANDBOXES: '30',
    });
  });
  afterAll(async () => {
    await server?.stop();
    state?.cleanup();
  });

  it('listens on loopback and answers /healthz', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const r = await rawRequest(server.port, { path: '/healthz' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'ok', provider: 'local' });
  });

  it('rejects a foreign Host header (DNS rebinding) and a foreign Origin with 403', async () => {
    const host = await rawRequest(server.port, {
      method: 'POST',
      headers: { ...MCP_HEADERS, host: 'evil.example:80' },
      body: INIT,
    });
    expect(host.status).toBe(403);
    expect(host.body).toContain('SANDBOX_ALLOWED_HOSTS');
    const origin = await rawRequest(server.port, {
      method: 'POST',
      headers: { ...MCP_HEADERS, origin: 'https://evil.example' },
      body: INIT,
    });
    expect(origin.status).toBe(403);
    const ok = await rawRequest(server.port, {
      method: 'POST',
      headers: { ...MCP_HEADERS, origin: `http://localhost:${server.port}` },
      body: INIT,
    });
    expect(ok.status).toBe(200);
  });

  it('caps the request body with 413 and keeps serving', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { pad: 'x'.repeat(100_000) } });
    const r = await rawRequest(server.port, { method: 'POST', headers: MCP_HEADERS, body: big });
    expect(r.status).toBe(413);
    expect(r.body).toContain('SANDBOX_MAX_BODY');
    expect((await rawRequest(server.port, { path: '/healthz' })).status).toBe(200);
  });

  it('needs initialize first, and 404s an unknown session', async () => {
    const noSession = await rawRequest(server.port, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(noSession.status).toBe(400);
    const unknown = await rawRequest(server.port, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': 'nope' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(unknown.status).toBe(404);
  });

  it('gives each session its own sandbox; DELETE kills its processes and removes its workspace', async () => {
    const a = await httpClient(server.url);
    const b = await httpClient(server.url);
    const marker = `http-del-${Date.now()}`;
    await sh(a.client, 'echo from-a > mine.txt');
    await call(a.client, 'shell_start', { command: `sleep 300; echo ${marker}` });
    expect((await sh(b.client, 'cat mine.txt 2>&1; echo END')).stdout).not.toContain('from-a');
    const idA = (await call(a.client, 'sandbox_info')).structuredContent!.id as string;
    const idB = (await call(b.client, 'sandbox_info')).structuredContent!.id as string;
    expect(idA).not.toBe(idB);
    expect(existsSync(path.join(state.dir, 'sandboxes', idA))).toBe(true);
    expect((await hostProcessesWith(marker)).length).toBeGreaterThan(0);
    await a.transport.terminateSession();
    await a.client.close();
    await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 10_000);
    await waitFor(() => !existsSync(path.join(state.dir, 'sandboxes', idA)), 10_000);
    expect(existsSync(path.join(state.dir, 'sandboxes', idB))).toBe(true);
    await b.transport.terminateSession();
    await b.client.close();
  });

  it('serves 20 sessions in parallel, each in its own sandbox', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => httpClient(server.url)));
    const results = await Promise.all(
      clients.map(async ({ client }, i) => {
        await sh(client, `echo ${i} > who.txt`);
        const r = await sh(client, 'cat who.txt; ls | wc -l');
        const id = (await call(client, 'sandbox_info')).structuredContent!.id as string;
        return { out: r.stdout, id };
      }),
    );
    results.forEach((r, i) => expect(r.out).toBe(`${i}\n1\n`));
    expect(new Set(results.map((r) => r.id)).size).toBe(20);
    await Promise.all(
      clients.map(async (c) => {
        await c.transport.terminateSession();
        await c.client.close();
      }),
    );
    await waitFor(() => readdirSync(path.join(state.dir, 'sandboxes')).length === 0, 20_000);
  });
});

describe('bearer token', () => {
  it('requires the token on /mcp when one is set', async () => {
    const state = tempDir();
    const token = 'test-token-0123456789abcdef';
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_MCP_AUTH_TOKEN: token });
    try {
      const none = await rawRequest(server.port, { method: 'POST', headers: MCP_HEADERS, body: INIT });
      expect(none.status).toBe(401);
      expect(none.body).toContain('Bearer');
      const wrong = await rawRequest(server.port, {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${token}x` },
        body: INIT,
      });
      expect(wrong.status).toBe(401);
      const { client } = await httpClient(server.url, { Authorization: `Bearer ${token}` });
      expect((await sh(client, 'echo authed')).stdout).toBe('authed\n');
      await client.close();
    } finally {
      await server.stop();
      state.cleanup();
    }
  });
});

describe('session expiry', () => {
  it('closes an HTTP session after SANDBOX_SESSION_TTL without requests, killing its sandbox', async () => {
    const state = tempDir();
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_SESSION_TTL: '2' });
    try {
      const { client } = await httpClient(server.url);
      await sh(client, 'true');
      expect(readdirSync(path.join(state.dir, 'sandboxes'))).toHaveLength(1);
      await waitFor(() => server.logs.some((l) => l.includes('session expired')), 10_000, 200);
      await waitFor(() => readdirSync(path.join(state.dir, 'sandboxes')).length === 0, 10_000);
      await expect(client.callTool({ name: 'shell_exec', arguments: { command: 'true' } })).rejects.toThrow(
        /404|session/i,
      );
    } finally {
      await server.stop();
      state.cleanup();
    }
  });
});
