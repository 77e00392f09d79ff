import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chromiumMissing,
  chromiumPids,
  sandboxId,
  serveInSandbox,
  snapshotOf,
  waitNoChromium,
} from './browser-helpers.js';
import { call, httpClient, startHttpServer, tempDir, text, type HttpServer } from './helpers.js';

const skip = chromiumMissing();
if (skip) console.warn(`[browser-sessions] skipped: ${skip}`);

/** A page that shows its server's name and the cookie it finds, and sets a cookie when asked. */
const page = (who: string) => `<!doctype html><title>${who}</title><h1>Server ${who}</h1><p id="c"></p>
<script>
  if (location.search === '?set') document.cookie = 'owner=${who}; path=/';
  document.getElementById('c').textContent = 'cookie=[' + document.cookie + ']';
</script>`;

describe.skipIf(!!skip)('browsers of two HTTP sessions are separate', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  const clients: { client: Client; transport: StreamableHTTPClientTransport }[] = [];

  beforeAll(async () => {
    state = tempDir();
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
    for (let i = 0; i < 2; i++) clients.push(await httpClient(server.url));
    // Both sandboxes serve on the same port: each has its own loopback.
    await serveInSandbox(clients[0]!.client, 8080, { 'index.html': page('A') });
    await serveInSandbox(clients[1]!.client, 8080, { 'index.html': page('B') });
  });
  afterAll(async () => {
    for (const c of clients) await c.client.close().catch(() => undefined);
    await server?.stop();
    state?.cleanup();
  });

  it('do not share pages, cookies or tabs, and each reaches only its own sandbox', async () => {
    const [a, b] = [clients[0]!.client, clients[1]!.client];
    const setA = await call(a, 'browser_navigate', { url: 'http://localhost:8080/?set' });
    expect(snapshotOf(setA)).toContain('Server A');
    const againA = await call(a, 'browser_navigate', { url: 'http://localhost:8080/' });
    expect(snapshotOf(againA)).toContain('cookie=[owner=A]');

    const inB = await call(b, 'browser_navigate', { url: 'http://localhost:8080/' });
    expect(snapshotOf(inB)).toContain('Server B');
    expect(snapshotOf(inB)).toContain('cookie=[]');
    await call(b, 'browser_tabs', { action: 'new' });
    const tabsA = await call(a, 'browser_tabs', { action: 'list' });
    expect(tabsA.structuredContent!.tabs).toHaveLength(1);
    expect(text(await call(b, 'browser_tabs', { action: 'list' }))).toMatch(/1: .*about:blank/);
  });

  it("ends a session's Chromium with the session, leaving the other one running", async () => {
    const [idA, idB] = [await sandboxId(clients[0]!.client), await sandboxId(clients[1]!.client)];
    expect((await chromiumPids(idA)).length).toBeGreaterThan(0);
    await clients[0]!.transport.terminateSession();
    await waitNoChromium(idA);
    expect((await chromiumPids(idB)).length).toBeGreaterThan(0);
    const stillB = await call(clients[1]!.client, 'browser_snapshot');
    expect(stillB.isError).toBeFalsy();
  });
});
