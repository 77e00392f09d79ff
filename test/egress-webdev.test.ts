import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, httpClient, isolationSkipReason, startHttpServer, tempDir, text, type HttpServer } from './helpers.js';
import { fetchHost, hostOf } from './web-helpers.js';

/**
 * webdev_create vite-react in SANDBOX_NETWORK=egress with the default allow list (this host's own
 * package registries): npm install runs for real through the proxy, then the dev server's preview and
 * the deployed build both serve the React page. Slow (a real install): one server for the whole flow.
 */
const skip = isolationSkipReason('bwrap');
if (skip) console.warn(`[egress-webdev] skipped: ${skip}`);

describe.skipIf(!!skip)('vite-react in egress mode (local provider)', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  let client: Client;

  beforeAll(async () => {
    state = tempDir('sbx-egress-webdev-');
    server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_ISOLATION: 'bwrap',
      SANDBOX_NETWORK: 'egress',
      SANDBOX_WEBDEV_START_TIMEOUT: '120',
    });
    ({ client } = await httpClient(server.url));
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    state?.cleanup();
  });

  it('creates and installs the project through the proxy', async () => {
    const created = await call(client, 'webdev_create', { name: 'spa', template: 'vite-react' });
    expect(created.isError, text(created)).toBeFalsy();
    expect(created.structuredContent).toMatchObject({ path: '/workspace/spa', installed: true });
  }, 600_000);

  it('webdev_start: the preview serves the React page as vite serves it', async () => {
    const started = await call(client, 'webdev_start', { name: 'spa' });
    expect(started.isError, text(started)).toBeFalsy();
    const { port, host } = hostOf(started.structuredContent!.url as string);
    const page = await fetchHost(port, host, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<div id="root"></div>');
    expect(page.body).toContain('/@vite/client');
    const app = await fetchHost(port, host, '/src/App.jsx');
    expect(app.status).toBe(200);
    expect(app.body).toContain('Hello from Vite + React');
    expect(app.body).toMatch(/import .*react/);
  }, 180_000);

  it('webdev_build then deploy_site: the site serves the built page and its bundle', async () => {
    const built = await call(client, 'webdev_build', { name: 'spa' });
    expect(built.isError, text(built)).toBeFalsy();
    expect(built.structuredContent).toMatchObject({ exitCode: 0, outputDir: '/workspace/spa/dist' });
    const deployed = await call(client, 'deploy_site', { path: 'spa/dist', name: 'spa' });
    expect(deployed.isError, text(deployed)).toBeFalsy();
    const { port, host } = hostOf(deployed.structuredContent!.url as string);
    const page = await fetchHost(port, host, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<div id="root"></div>');
    const bundle = /src="(\/assets\/index-[^"]+\.js)"/.exec(page.body)?.[1];
    expect(bundle, page.body).toBeDefined();
    const js = await fetchHost(port, host, bundle!);
    expect(js.status).toBe(200);
    expect(js.body).toContain('Hello from Vite + React');
  }, 300_000);
});
