import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, httpClient, sh, startHttpServer, tempDir, text, type HttpServer } from '../helpers.js';
import { fetchHost, hostOf, MCP_HEADERS, rawRequest } from '../web-helpers.js';

/**
 * Names a client or a sandbox chooses (site names, file paths, workspace names, session ids, Host
 * labels) that are also members of Object.prototype must behave like any other name: a file, a plain
 * 404 or a plain refusal, never a lookup that finds the prototype's member.
 */
const PROTO_MEMBERS = [
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupSetter__',
];

describe('prototype-named keys', () => {
  let state: ReturnType<typeof tempDir>;
  let server: HttpServer;
  let client: Client;
  let siteHost = '';
  const get = (host: string, p = '/') => fetchHost(server.port, host, p);
  const serverErrors = () => server.logs.filter((l) => /TypeError|"level":"error"/.test(l));

  beforeAll(async () => {
    state = tempDir('sbx-sec-proto-');
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
    ({ client } = await httpClient(server.url));
    // Files a sandbox names after prototype members; they are ordinary files and must be published as such.
    await sh(
      client,
      'mkdir -p out/toString && echo home > out/index.html && echo proto > out/__proto__ && echo ctor > out/constructor && echo ts > out/toString/index.html',
    );
    const r = await call(client, 'deploy_site', { path: 'out', name: 'protos' });
    expect(r.isError, text(r)).toBeFalsy();
    siteHost = hostOf(r.structuredContent!.url as string).host;
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    state?.cleanup();
  });

  it('site paths named after prototype members are plain 404s, not a crash', async () => {
    for (const name of PROTO_MEMBERS.filter((n) => !['__proto__', 'constructor', 'toString'].includes(n))) {
      for (const p of [`/${name}`, `/${name}/`, `/sub/${name}`]) {
        const r = await get(siteHost, p);
        expect(r.status, p).toBe(404);
        expect(r.body, p).toMatch(/404 Page not found/);
      }
    }
    expect(serverErrors()).toEqual([]);
  });

  it("a sandbox's files named __proto__ or constructor are published and served like any file", async () => {
    const list = await call(client, 'deploy_list', { name: 'protos' });
    const [site] = list.structuredContent!.sites as { versions: { fileCount: number }[] }[];
    expect(site!.versions[0]!.fileCount).toBe(4);
    expect((await get(siteHost, '/__proto__')).body).toBe('proto\n');
    expect((await get(siteHost, '/constructor')).body).toBe('ctor\n');
    const folder = await get(siteHost, '/toString');
    expect(folder.status).toBe(301);
    expect((await get(siteHost, '/toString/')).body).toBe('ts\n');
    expect(serverErrors()).toEqual([]);
  });

  it('Host names, session ids and workspace names made of prototype members get the ordinary answers', async () => {
    for (const name of ['__proto__', 'constructor', 'hasownproperty', 'tostring', 'valueof']) {
      const site = await get(`${name}.site.localhost:${server.port}`);
      expect(site.status, name).toBe(404);
      expect(site.body).toMatch(/not found/i);
      const preview = await get(`3000-${name.replace(/_/g, 'x')}0000.localhost:${server.port}`);
      expect(preview.status, name).toBe(404);
    }
    for (const id of PROTO_MEMBERS) {
      const r = await rawRequest(server.port, {
        method: 'POST',
        headers: { ...MCP_HEADERS, 'mcp-session-id': id },
        body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
      });
      expect(r.status, id).toBe(404);
      expect(r.body).toContain('unknown or expired session');
    }
    const refused = await rawRequest(server.port, {
      method: 'POST',
      path: '/mcp?workspace=__proto__',
      headers: MCP_HEADERS,
      body: '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}',
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/workspace name \\"__proto__\\".*is not valid/);
    // Valid names that are prototype members are ordinary workspaces: shared by name, distinct from each other.
    const a = await httpClient(server.url, { 'Sandbox-Workspace': 'constructor' });
    const b = await httpClient(`${server.url}?workspace=constructor`);
    const c = await httpClient(server.url, { 'Sandbox-Workspace': 'tostring' });
    try {
      const idOf = async (x: Client) => String((await call(x, 'sandbox_info')).structuredContent!.id);
      expect(await idOf(b.client)).toBe(await idOf(a.client));
      expect(await idOf(c.client)).not.toBe(await idOf(a.client));
    } finally {
      for (const x of [a, b, c]) await x.client.close();
    }
    expect(serverErrors()).toEqual([]);
  });
});
