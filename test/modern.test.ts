import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, httpClient, startHttpServer, tempDir, text, type HttpServer } from './helpers.js';
import { envelope, modernHeaders, modernHttpClient, modernStdioClient } from './modern-helpers.js';
import { rawRequest } from './web-helpers.js';

/** MCP 2026-07-28 beside 2025-11-25: what the revision itself asks of the server, over both transports. */

function post(server: HttpServer, body: Record<string, unknown>, headers: Record<string, string>) {
  return rawRequest(server.port, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', ...body }) });
}

describe('MCP 2026-07-28 over stdio', () => {
  it('a pinned client opens without initialize and keeps one sandbox for the connection', async () => {
    const state = tempDir();
    const { client } = await modernStdioClient({ SANDBOX_STATE_DIR: state.dir });
    try {
      expect(client.getProtocolEra()).toBe('modern');
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      await call(client, 'shell_exec', { command: 'echo kept > note.txt' });
      const r = await call(client, 'shell_exec', { command: 'cat note.txt' });
      expect(r.structuredContent).toMatchObject({ exitCode: 0, stdout: 'kept\n' });
      const a = (await call(client, 'sandbox_info')).structuredContent!.id;
      const b = (await call(client, 'sandbox_info')).structuredContent!.id;
      expect(a).toBe(b);
    } finally {
      await client.close();
      state.cleanup();
    }
  });
});

describe('MCP 2026-07-28 over HTTP', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    state = tempDir();
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
  });
  afterAll(async () => {
    await server?.stop();
    state?.cleanup();
  });

  it('answers server/discover with its capabilities, cache hints and identity', async () => {
    const r = await post(
      server,
      { id: 7, method: 'server/discover', params: { _meta: envelope() } },
      modernHeaders('server/discover'),
    );
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as { id: number; result: Record<string, unknown> };
    expect(body.id).toBe(7);
    expect(body.result).toMatchObject({
      supportedVersions: expect.arrayContaining(['2026-07-28']),
      capabilities: { tools: {} },
      cacheScope: 'public',
    });
    expect(body.result.ttlMs).toBeGreaterThan(0);
    expect(body.result._meta).toMatchObject({ 'io.modelcontextprotocol/serverInfo': { name: 'sandbox-mcp' } });
  });

  it("puts cache hints on tools/list for 2026-07-28, and none on a 2025 session's", async () => {
    const modern = JSON.parse(
      (await post(server, { id: 8, method: 'tools/list', params: { _meta: envelope() } }, modernHeaders('tools/list')))
        .body,
    ) as { result: { ttlMs: number; cacheScope: string; tools: unknown[] } };
    expect(modern.result.tools.length).toBeGreaterThan(10);
    expect(modern.result).toMatchObject({ ttlMs: 300_000, cacheScope: 'public' });
    const { client } = await httpClient(server.url);
    const legacy = await client.listTools();
    expect(legacy).not.toHaveProperty('ttlMs');
    await client.close();
  });

  it('refuses a request without its _meta envelope, or whose Mcp-Name disagrees, with the spec codes and the request id', async () => {
    const noMeta = await post(server, { id: 9, method: 'tools/list', params: {} }, modernHeaders('tools/list'));
    expect(noMeta.status).toBe(400);
    expect(JSON.parse(noMeta.body)).toMatchObject({ id: 9, error: { code: -32602 } });
    const mismatch = await post(
      server,
      {
        id: 10,
        method: 'tools/call',
        params: { name: 'shell_exec', arguments: { command: 'true' }, _meta: envelope() },
      },
      modernHeaders('tools/call', 'shell_list'),
    );
    expect(mismatch.status).toBe(400);
    expect(JSON.parse(mismatch.body)).toMatchObject({ id: 10, error: { code: -32020 } });
    const noName = await post(
      server,
      {
        id: 11,
        method: 'tools/call',
        params: { name: 'shell_exec', arguments: { command: 'true' }, _meta: envelope() },
      },
      modernHeaders('tools/call'),
    );
    expect(noName.status).toBe(400);
    expect(JSON.parse(noName.body)).toMatchObject({ id: 11, error: { code: -32020 } });
    const oldVersion = await post(
      server,
      {
        id: 12,
        method: 'tools/list',
        params: { _meta: envelope({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }) },
      },
      { ...modernHeaders('tools/list'), 'mcp-protocol-version': '2099-01-01' },
    );
    expect(oldVersion.status).toBe(400);
    expect(JSON.parse(oldVersion.body)).toMatchObject({ id: 12, error: { code: -32022 } });
  });

  it('keeps the DNS-rebinding guard on the stateless path and still accepts localhost Host and Origin', async () => {
    const body = { id: 13, method: 'tools/list', params: { _meta: envelope() } };
    expect((await post(server, body, { ...modernHeaders('tools/list'), host: 'evil.example' })).status).toBe(403);
    expect((await post(server, body, { ...modernHeaders('tools/list'), origin: 'https://evil.example' })).status).toBe(
      403,
    );
    expect(
      (
        await post(server, body, {
          ...modernHeaders('tools/list'),
          host: `localhost:${server.port}`,
          origin: `http://localhost:${server.port}`,
        })
      ).status,
    ).toBe(200);
  });

  it("a 2025 client still gets an unknown tool as an isError result it can read; 2026-07-28 gets the spec's error", async () => {
    const { client } = await httpClient(server.url);
    const legacy = await call(client, 'no_such_tool');
    expect(legacy.isError).toBe(true);
    expect(text(legacy)).toMatch(/Tool no_such_tool not found/);
    await client.close();
    const modern = await modernHttpClient(server.url);
    await expect(modern.client.callTool({ name: 'no_such_tool', arguments: {} })).rejects.toThrow(/not found/);
    await modern.client.close();
  });

  it('reaches a named workspace from stateless requests, shared with a 2025 session of it', async () => {
    const a = await modernHttpClient(server.url, { 'Sandbox-Workspace': 'shared' });
    expect(a.client.getProtocolEra()).toBe('modern');
    expect((await call(a.client, 'shell_exec', { command: 'echo from-modern > w.txt' })).isError).toBeFalsy();
    const b = await modernHttpClient(`${server.url}?workspace=shared`);
    expect((await call(b.client, 'shell_exec', { command: 'cat w.txt' })).structuredContent!.stdout).toBe(
      'from-modern\n',
    );
    const legacy = await httpClient(server.url, { 'Sandbox-Workspace': 'shared' });
    expect((await call(legacy.client, 'shell_exec', { command: 'cat w.txt' })).structuredContent!.stdout).toBe(
      'from-modern\n',
    );
    await Promise.all([
      a.client.close(),
      b.client.close(),
      legacy.transport.terminateSession().then(() => legacy.client.close()),
    ]);
  });

  it("a bad workspace name is the call's error, saying what a name may be", async () => {
    const { client } = await modernHttpClient(server.url, { 'Sandbox-Workspace': 'Not Valid' });
    const r = await call(client, 'shell_exec', { command: 'true' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/not valid.*lowercase/);
    await client.close();
  });
});
