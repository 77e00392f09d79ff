import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing } from './browser-helpers.js';
import { call, startHttpServer, tempDir, text, type HttpServer, type ToolCaller, type ToolResult } from './helpers.js';
import { modernHttpClient, modernStdioClient } from './modern-helpers.js';
import { fetchHost, hostOf } from './web-helpers.js';

/**
 * A v2 client pinned to MCP 2026-07-28 uses every tool group: over stdio with its connection's sandbox,
 * over stateless HTTP with a handle from sandbox_create.
 */

const noChromium = chromiumMissing();
if (noChromium) console.warn(`[modern-tools] browser group skipped: ${noChromium}`);

function using(client: ToolCaller, sandbox?: string) {
  return async (name: string, args: Record<string, unknown> = {}): Promise<ToolResult> => {
    const r = await call(client, name, sandbox ? { ...args, sandbox } : args);
    if (r.isError) throw new Error(`${name} failed: ${text(r)}`);
    return r;
  };
}

async function everyGroup(client: ToolCaller, sandbox?: string): Promise<void> {
  const c = using(client, sandbox);
  expect((await c('sandbox_info')).structuredContent!.workdir).toBe('/workspace');

  // shell
  expect((await c('shell_exec', { command: 'echo $((6*7))' })).structuredContent!.stdout).toBe('42\n');
  const started = await c('shell_start', { command: 'cat', name: 'echoer' });
  const processId = started.structuredContent!.processId as string;
  await c('shell_write', { processId, input: 'ping\n' });
  expect(String((await c('shell_read', { processId, until: 'ping', wait_s: 10 })).structuredContent!.output)).toContain(
    'ping',
  );
  expect(JSON.stringify((await c('shell_list')).structuredContent)).toContain(processId);
  await c('shell_kill', { processId });

  // files
  await c('file_write', { path: 'notes/a.txt', content: 'alpha\nbeta\n' });
  expect(text(await c('file_read', { path: 'notes/a.txt' }))).toContain('beta');
  expect(
    text(await c('file_edit', { path: 'notes/a.txt', edits: [{ old_text: 'beta', new_text: 'gamma' }] })),
  ).toContain('+gamma');
  expect(JSON.stringify((await c('file_list', { path: 'notes' })).structuredContent)).toContain('a.txt');
  expect(JSON.stringify((await c('file_search', { pattern: 'gamma' })).structuredContent)).toContain('a.txt');
  await c('file_move', { from: 'notes/a.txt', to: 'notes/b.txt' });
  expect((await c('file_info', { path: 'notes/b.txt' })).structuredContent).toMatchObject({ type: 'file' });
  await c('file_delete', { path: 'notes', recursive: true });

  // webdev: a preview URL that answers from the host
  expect(JSON.stringify((await c('webdev_templates')).structuredContent)).toContain('static');
  await c('webdev_create', { name: 'site', template: 'static' });
  const url = (await c('webdev_start', { name: 'site' })).structuredContent!.url as string;
  const { port, host } = hostOf(url);
  expect((await fetchHost(port, host, '/')).body).toContain('Hello from a static site');
  expect(JSON.stringify((await c('webdev_list')).structuredContent)).toContain('site');
  await c('webdev_logs', { name: 'site' });
  expect((await c('expose_port', { port: Number(new URL(url).hostname.split('-')[0]) })).structuredContent!.url).toBe(
    url,
  );

  // deploy: the site host serves it
  const deployed = await c('deploy_site', { path: 'site', name: `modern${sandbox ? 'http' : 'stdio'}` });
  const siteUrl = deployed.structuredContent!.url as string;
  expect((await fetchHost(hostOf(siteUrl).port, hostOf(siteUrl).host, '/')).body).toContain('Hello from a static site');
  expect(JSON.stringify((await c('deploy_list')).structuredContent)).toContain(
    deployed.structuredContent!.version as string,
  );

  // browser
  if (!noChromium) {
    const page = await c('browser_navigate', { url: `http://localhost:${new URL(url).hostname.split('-')[0]}/` });
    expect(text(page)).toMatch(/Hello from a static site/);
    expect(text(await c('browser_snapshot'))).toMatch(/\[ref=e\d+\]/);
    await c('browser_close');
  }

  await c('deploy_delete', { name: deployed.structuredContent!.name as string });
  await c('webdev_stop', { name: 'site' });
}

describe('every tool group with a v2 client pinned to 2026-07-28', () => {
  it("over stdio, in the connection's sandbox", async () => {
    const state = tempDir();
    const { client } = await modernStdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_NETWORK: 'none' });
    try {
      expect(client.getProtocolEra()).toBe('modern');
      await everyGroup(client);
    } finally {
      await client.close();
      state.cleanup();
    }
  });

  describe('over stateless HTTP', () => {
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

    it('through a handle from sandbox_create', async () => {
      const { client } = await modernHttpClient(server.url);
      const created = await call(client, 'sandbox_create');
      const sandbox = created.structuredContent!.sandbox as string;
      await everyGroup(client, sandbox);
      expect((await call(client, 'sandbox_delete', { sandbox })).isError).toBeFalsy();
      await client.close();
    });
  });
});
