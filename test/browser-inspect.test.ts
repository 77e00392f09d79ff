import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, refOf, sandboxId, serveInSandbox, snapshotOf, waitNoChromium } from './browser-helpers.js';
import { call, sh, stdioClient, tempDir, text } from './helpers.js';

const PAGE = `<!doctype html><html><head><title>Inspect</title>
<style>#tip { display: none } #menu:hover + #tip { display: block }</style>
<link rel="stylesheet" href="/missing.css"></head><body>
<h1>Inspect me</h1>
<button id="menu">Menu</button><p id="tip">Tooltip shown</p>
<input id="price" value="42">
<label for="up">Attachment</label><input id="up" type="file" multiple>
<button id="pick" onclick="document.getElementById('hidden-up').click()">Choose a file</button>
<input id="hidden-up" type="file" style="display:none">
<p id="got"></p>
<script>
  window.appState = { cart: [1, 2, 3], user: 'ada' };
  localStorage.setItem('theme', 'dark');
  fetch('/api/nope').catch(() => {});
  for (const id of ['up', 'hidden-up']) document.getElementById(id).addEventListener('change', async (e) => {
    const parts = await Promise.all([...e.target.files].map(async (f) => f.name + ':' + f.size + ':' + (await f.text()).trim()));
    document.getElementById('got').textContent = 'got ' + parts.join(', ');
  });
</script></body></html>`;

const skip = chromiumMissing();
if (skip) console.warn(`[browser-inspect] skipped: ${skip}`);

describe.skipIf(!!skip)('browser inspection tools: hover, evaluate, network requests, file upload', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;
  let id: string;
  let snap: string;

  beforeAll(async () => {
    state = tempDir();
    // A short script budget for the never-settling script below (navigation here takes well under 1 s).
    ({ client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_BROWSER_NAV_TIMEOUT: '8' }));
    await serveInSandbox(client, 8090, { 'index.html': PAGE });
    id = await sandboxId(client);
    snap = snapshotOf(await call(client, 'browser_navigate', { url: 'http://localhost:8090/' }));
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    if (id) await waitNoChromium(id).catch(() => undefined);
    state?.cleanup();
  });

  it('browser_hover reveals what a hover shows', async () => {
    expect(snap).not.toContain('Tooltip shown');
    const r = await call(client, 'browser_hover', { ref: refOf(snap, /button "Menu"/) });
    expect(r.isError, text(r)).toBeFalsy();
    expect(text(r)).toContain('Tooltip shown');
  });

  it('browser_evaluate returns expressions, functions, promises and element values as JSON', async () => {
    const title = await call(client, 'browser_evaluate', { function: 'document.title' });
    expect(title.structuredContent).toMatchObject({ result: '"Inspect"', truncated: false });
    const state = await call(client, 'browser_evaluate', {
      function: '() => ({ ...window.appState, theme: localStorage.getItem("theme") })',
    });
    expect(JSON.parse(state.structuredContent!.result as string)).toEqual({
      cart: [1, 2, 3],
      user: 'ada',
      theme: 'dark',
    });
    const later = await call(client, 'browser_evaluate', {
      function: 'async () => { await new Promise(r => setTimeout(r, 50)); return 7 * 6; }',
    });
    expect(later.structuredContent!.result).toBe('42');
    const snapNow = snapshotOf(await call(client, 'browser_snapshot'));
    const el = await call(client, 'browser_evaluate', {
      function: '(el) => el.value + "!"',
      ref: refOf(snapNow, /textbox/),
    });
    expect(el.structuredContent!.result).toBe('"42!"');
    expect((await call(client, 'browser_evaluate', { function: 'void 0' })).structuredContent!.result).toBe(
      'undefined',
    );
  });

  it('browser_evaluate errors say what broke and how to write the script', async () => {
    const threw = await call(client, 'browser_evaluate', { function: '() => { throw new Error("boom-42") }' });
    expect(threw.isError).toBe(true);
    expect(text(threw)).toMatch(/threw.*boom-42/);
    const bad = await call(client, 'browser_evaluate', { function: 'const x = 1; x + 1' });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/does not parse.*\(\) => \{/s);
    const missing = await call(client, 'browser_evaluate', { function: 'process.env' });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/process is not defined/);
    const stale = await call(client, 'browser_evaluate', { function: '(el) => 1', ref: 'e9999' });
    expect(text(stale)).toMatch(/not in the latest snapshot/);
  });

  it('a script that never settles fails at the budget instead of holding the call for ever', async () => {
    const started = performance.now();
    const never = await call(client, 'browser_evaluate', { function: '() => new Promise(() => {})' });
    expect(never.isError).toBe(true);
    expect(text(never)).toMatch(/did not finish within 8 s/);
    expect(performance.now() - started).toBeLessThan(20_000);
    // The page is fine afterwards.
    const title = await call(client, 'browser_evaluate', { function: 'document.title' });
    expect(title.structuredContent).toMatchObject({ result: '"Inspect"' });
  }, 40_000);

  it('browser_network_requests lists requests with statuses, and only_failed finds the broken ones', async () => {
    const all = await call(client, 'browser_network_requests', {});
    expect(all.isError, text(all)).toBeFalsy();
    const reqs = all.structuredContent!.requests as {
      url: string;
      status?: number;
      method: string;
      resourceType: string;
    }[];
    expect(reqs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          url: 'http://localhost:8090/',
          status: 200,
          method: 'GET',
          resourceType: 'document',
        }),
        expect.objectContaining({ url: 'http://localhost:8090/missing.css', status: 404 }),
      ]),
    );
    const failed = await call(client, 'browser_network_requests', { only_failed: true });
    const urls = (failed.structuredContent!.requests as { url: string }[]).map((r) => r.url);
    expect(urls).toEqual(
      expect.arrayContaining(['http://localhost:8090/missing.css', 'http://localhost:8090/api/nope']),
    );
    expect(urls).not.toContain('http://localhost:8090/');
    expect(text(failed)).toMatch(/GET http:\/\/localhost:8090\/missing\.css -> 404/);
    const filtered = await call(client, 'browser_network_requests', { url_contains: '/api/' });
    expect((filtered.structuredContent!.requests as unknown[]).length).toBe(1);
  });

  it('browser_file_upload gives the page files of the sandbox, through an input or a button that opens the dialog', async () => {
    await sh(
      client,
      'printf "hello upload" > a.txt && mkdir -p docs && printf "second" > docs/b.txt && printf "third" > c.txt',
    );
    let s = snapshotOf(await call(client, 'browser_snapshot'));
    const r = await call(client, 'browser_file_upload', {
      ref: refOf(s, /button "Attachment"/),
      paths: ['a.txt', '/workspace/docs/b.txt'],
    });
    expect(r.isError, text(r)).toBeFalsy();
    expect(text(r)).toContain('got a.txt:12:hello upload, b.txt:6:second');
    s = snapshotOf(await call(client, 'browser_snapshot'));
    const viaButton = await call(client, 'browser_file_upload', {
      ref: refOf(s, /button "Choose a file"/),
      paths: ['c.txt'],
    });
    expect(viaButton.isError, text(viaButton)).toBeFalsy();
    expect(text(viaButton)).toContain('got c.txt:5:third');
  });

  it('browser_file_upload refuses what is not a file input, missing files and host paths', async () => {
    const s = snapshotOf(await call(client, 'browser_snapshot'));
    const notInput = await call(client, 'browser_file_upload', {
      ref: refOf(s, /heading "Inspect me"/),
      paths: ['a.txt'],
    });
    expect(notInput.isError).toBe(true);
    expect(text(notInput)).toMatch(/not a file input.*input type=file/s);
    const missing = await call(client, 'browser_file_upload', {
      ref: refOf(s, /button "Attachment"/),
      paths: ['nope.txt'],
    });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/nope\.txt/);
    // A host file, by its host path: the sandbox has no such file, so the page never gets it.
    const hostDir = tempDir('sbx-host-secret-');
    writeFileSync(path.join(hostDir.dir, 'secret.txt'), 'host-secret-value');
    try {
      const host = await call(client, 'browser_file_upload', {
        ref: refOf(s, /button "Attachment"/),
        paths: [path.join(hostDir.dir, 'secret.txt')],
      });
      expect(host.isError).toBe(true);
      const got = await call(client, 'browser_evaluate', { function: 'document.getElementById("got").textContent' });
      expect(got.structuredContent!.result).not.toContain('host-secret');
    } finally {
      hostDir.cleanup();
    }
  });
});
