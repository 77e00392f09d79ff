import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { expect, it } from 'vitest';
import { call, text } from './helpers.js';
import { fetchHost, hostOf } from './web-helpers.js';

/**
 * The vite-react flow of SANDBOX_NETWORK=egress with the default allow list, shared by every provider's
 * test file: webdev_create installs for real through the proxy, then the dev server's preview and the
 * deployed build both serve the React page. Declares the tests inside the caller's describe block.
 */
export function viteReactFlowTests(client: () => Client): void {
  it('creates and installs the project through the proxy', async () => {
    const created = await call(client(), 'webdev_create', { name: 'spa', template: 'vite-react' });
    expect(created.isError, text(created)).toBeFalsy();
    expect(created.structuredContent).toMatchObject({ path: '/workspace/spa', installed: true });
  }, 600_000);

  it('webdev_start: the preview serves the React page as vite serves it', async () => {
    const started = await call(client(), 'webdev_start', { name: 'spa' });
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
    const built = await call(client(), 'webdev_build', { name: 'spa' });
    expect(built.isError, text(built)).toBeFalsy();
    expect(built.structuredContent).toMatchObject({ exitCode: 0, outputDir: '/workspace/spa/dist' });
    const deployed = await call(client(), 'deploy_site', { path: 'spa/dist', name: 'spa' });
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
}
