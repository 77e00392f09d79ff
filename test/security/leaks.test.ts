import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, httpClient, sh, startHttpServer, stdioClient, tempDir, text, type HttpServer } from '../helpers.js';
import { rawRequest } from '../web-helpers.js';

/**
 * A sandbox id is the capability behind its preview URLs, and host paths are none of a session's
 * business: neither may appear in what other sessions can read (tool results, /healthz, /metrics).
 */
describe('capabilities and host paths stay out of what sessions read', () => {
  let state: ReturnType<typeof tempDir>;
  let server: HttpServer;
  let a: Client;
  let b: Client;
  let idA = '';
  const LEGACY_ID = 'legacysandboxid0000000aa';

  beforeAll(async () => {
    state = tempDir('sbx-sec-leaks-');
    // A version published before this fix recorded "<sandboxId>:<path>" as its source.
    const legacy = path.join(state.dir, 'deploy', 'sites', 'legacy');
    mkdirSync(path.join(legacy, 'versions'), { recursive: true });
    writeFileSync(
      path.join(legacy, 'versions', 'v1.json'),
      JSON.stringify({
        site: 'legacy',
        version: 'v1',
        createdAt: '2026-01-01T00:00:00.000Z',
        source: `${LEGACY_ID}:/workspace/old`,
        totalBytes: 3,
        files: { 'index.html': { sha256: 'a'.repeat(64), size: 3 } },
      }),
    );
    writeFileSync(
      path.join(legacy, 'live.json'),
      JSON.stringify({ version: 'v1', updatedAt: '2026-01-01T00:00:00.000Z' }),
    );
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
    ({ client: a } = await httpClient(server.url));
    ({ client: b } = await httpClient(server.url));
    idA = String((await call(a, 'sandbox_info')).structuredContent!.id);
    await sh(a, 'mkdir -p out && echo hi > out/index.html');
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await server?.stop();
    state?.cleanup();
  });

  const leaks = (r: unknown, ...secrets: string[]) => secrets.filter((s) => JSON.stringify(r).includes(s));

  it('deploy results name the folder inside the sandbox, never the sandbox id (the preview capability)', async () => {
    const deployed = await call(a, 'deploy_site', { path: 'out', name: 'mine' });
    expect(deployed.isError, text(deployed)).toBeFalsy();
    const mine = await call(a, 'deploy_list', { name: 'mine' });
    const [site] = mine.structuredContent!.sites as { versions: { source: string }[] }[];
    expect(site!.versions[0]!.source).toBe('/workspace/out');
    for (const r of [deployed, mine, await call(a, 'deploy_list'), await call(b, 'deploy_list')])
      expect(leaks(r, idA, state.dir)).toEqual([]);
  });

  it('a version recorded with its sandbox id before the fix is listed without it', async () => {
    expect((await call(a, 'deploy_site', { path: 'out', name: 'legacy' })).isError).toBeFalsy();
    const r = await call(a, 'deploy_list', { name: 'legacy' });
    const [site] = r.structuredContent!.sites as { versions: { version: string; source: string }[] }[];
    expect(site!.versions.map((v) => [v.version, v.source])).toEqual([
      ['v1', '/workspace/old'],
      ['v2', '/workspace/out'],
    ]);
    expect(leaks(r, LEGACY_ID)).toEqual([]);
  });

  it('/healthz and /metrics carry counts, not sandbox ids or host paths', async () => {
    for (const p of ['/healthz', '/metrics']) {
      const r = await rawRequest(server.port, { path: p });
      expect(r.status, p).toBe(200);
      expect(leaks(r.body, idA, state.dir), p).toEqual([]);
    }
  });
});

describe('unexpected server-side failures', () => {
  it("say what failed and what to do, without the server's host paths, in the result and the MCP log", async () => {
    const state = tempDir('sbx-sec-leaks-io-');
    // The site store cannot be created: a file where its folder should be.
    writeFileSync(path.join(state.dir, 'deploy'), 'not a folder');
    const { client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir });
    const logged: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logged.push(JSON.stringify(n.params));
    });
    try {
      await sh(client, 'mkdir -p out && echo hi > out/index.html');
      const r = await call(client, 'deploy_site', { path: 'out', name: 'broken' });
      expect(r.isError).toBe(true);
      expect(text(r), text(r)).toMatch(
        /deploy_site failed: the server hit an internal error \(E[A-Z]+ during \w+\).*server log/,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(logged.length).toBeGreaterThan(0);
      for (const t of [text(r), ...logged]) expect(t).not.toContain(state.dir);
    } finally {
      await client.close();
      state.cleanup();
    }
  }, 60_000);
});
