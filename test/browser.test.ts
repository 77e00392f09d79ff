import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chromiumMissing,
  chromiumPids,
  pngSize,
  refOf,
  sandboxId,
  serveInSandbox,
  snapshotOf,
  waitNoChromium,
} from './browser-helpers.js';
import { call, hostProcessesWith, sh, stdioClient, tempDir, text } from './helpers.js';

const FORM = `<!doctype html><html><head><title>Signup</title></head><body>
<h1>Signup</h1>
<form id="f">
  <label for="name">Name</label><input id="name">
  <label for="color">Color</label><select id="color"><option value="r">Red</option><option value="b">Blue</option></select>
  <button type="submit">Send</button>
</form>
<p id="out"></p>
<button id="gone" onclick="this.remove()">Vanish</button>
<a href="/two.html">Second page</a>
<script>
  document.getElementById('f').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = document.getElementById('name').value, color = document.getElementById('color').value;
    console.log('submitted ' + name);
    setTimeout(() => { document.getElementById('out').textContent = 'Thanks ' + name + ' (' + color + ')'; }, 300);
  });
  console.warn('form page ready');
</script></body></html>`;
const TWO = '<!doctype html><title>Two</title><h1>Page two</h1><div style="height:3000px">tall</div><p>bottom line</p>';

const skip = chromiumMissing();
if (skip) console.warn(`[browser] skipped: ${skip}`);

describe.skipIf(!!skip)('browser tools over stdio (Chromium inside the sandbox)', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;
  let id: string;

  beforeAll(async () => {
    state = tempDir();
    ({ client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir }));
    await serveInSandbox(client, 8080, { 'index.html': FORM, 'two.html': TWO });
    id = await sandboxId(client);
  });
  afterAll(async () => {
    await client?.close();
    if (id) await waitNoChromium(id).catch(() => undefined);
    state?.cleanup();
  });

  it('lists the browser tools with schemas and annotations', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'browser_navigate',
        'browser_snapshot',
        'browser_click',
        'browser_type',
        'browser_press_key',
        'browser_select_option',
        'browser_scroll',
        'browser_wait_for',
        'browser_screenshot',
        'browser_extract',
        'browser_tabs',
        'browser_back',
        'browser_console',
        'browser_close',
      ]),
    );
    expect(tools.find((t) => t.name === 'browser_snapshot')!.annotations?.readOnlyHint).toBe(true);
    expect(tools.find((t) => t.name === 'browser_navigate')!.outputSchema?.properties).toHaveProperty('snapshot');
  });

  it('fills and submits a form served inside the sandbox, by refs, and reads the result', async () => {
    const nav = await call(client, 'browser_navigate', { url: 'http://localhost:8080/' });
    const snap = snapshotOf(nav);
    expect(nav.structuredContent).toMatchObject({
      url: 'http://localhost:8080/',
      title: 'Signup',
      snapshotKind: 'full',
    });
    expect(snap).toMatch(/heading "Signup"/);
    expect(text(nav)).toContain('form page ready'); // console output arrives with the action that caused it

    const typed = await call(client, 'browser_type', { ref: refOf(snap, /textbox "Name"/), text: 'Ada' });
    expect(snapshotOf(typed)).toContain('Ada');
    const selected = await call(client, 'browser_select_option', {
      ref: refOf(snap, /combobox "Color"/),
      values: ['Blue'],
    });
    expect(text(selected)).toMatch(/option "Blue" \[selected\]/);
    const clicked = await call(client, 'browser_click', { ref: refOf(snap, /button "Send"/) });
    expect(clicked.isError).toBeFalsy();
    expect(text(clicked)).toContain('submitted Ada');

    const waited = await call(client, 'browser_wait_for', { text: 'Thanks Ada', time_s: 5 });
    expect(waited.isError).toBeFalsy();
    const extract = await call(client, 'browser_extract');
    expect(extract.structuredContent!.text).toContain('Thanks Ada (b)');
    expect(extract.structuredContent!.text).not.toContain('console.log'); // visible text, not markup

    const consoleR = await call(client, 'browser_console');
    const msgs = consoleR.structuredContent!.messages as { type: string; text: string }[];
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'log', text: 'submitted Ada' }),
        expect.objectContaining({ type: 'warning', text: 'form page ready' }),
      ]),
    );
  });

  it('times out waiting for text that never comes, with a clear message', async () => {
    const r = await call(client, 'browser_wait_for', { text: 'never shown anywhere', time_s: 1 });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/did not appear within 1 s/);
  });

  it('takes screenshots that are real PNGs of the viewport or the whole page', async () => {
    const shot = await call(client, 'browser_screenshot');
    const img = shot.content.find((c) => c.type === 'image') as { data: string; mimeType: string };
    expect(img.mimeType).toBe('image/png');
    expect(pngSize(img.data)).toMatchObject({ width: 1280, height: 720 });
    await call(client, 'browser_navigate', { url: 'http://localhost:8080/two.html' });
    const full = await call(client, 'browser_screenshot', { full_page: true });
    const fimg = full.content.find((c) => c.type === 'image') as { data: string };
    expect(pngSize(fimg.data).height).toBeGreaterThan(3000);
  });

  it('scrolls, goes back, and reports an empty history', async () => {
    const scrolled = await call(client, 'browser_scroll', { dy: 1500 });
    expect(text(scrolled)).toMatch(/vertical position 1500 of/);
    const back = await call(client, 'browser_back');
    expect(back.structuredContent).toMatchObject({ url: 'http://localhost:8080/', title: 'Signup' });
    await call(client, 'browser_tabs', { action: 'new' });
    const nothing = await call(client, 'browser_back');
    expect(text(nothing)).toContain('no previous page');
    await call(client, 'browser_tabs', { action: 'close' });
  });

  it('opens, lists, selects and closes tabs', async () => {
    const opened = await call(client, 'browser_tabs', { action: 'new', url: 'http://localhost:8080/two.html' });
    expect(opened.structuredContent!.active).toBe(1);
    expect((opened.structuredContent!.tabs as { url: string }[]).map((t) => t.url)).toEqual([
      'http://localhost:8080/',
      'http://localhost:8080/two.html',
    ]);
    expect((await call(client, 'browser_snapshot')).structuredContent!.title).toBe('Two');
    await call(client, 'browser_tabs', { action: 'select', index: 0 });
    expect((await call(client, 'browser_snapshot')).structuredContent!.title).toBe('Signup');
    const bad = await call(client, 'browser_tabs', { action: 'select', index: 7 });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toContain('no tab 7');
    const closed = await call(client, 'browser_tabs', { action: 'close', index: 1 });
    expect(closed.structuredContent!.tabs).toHaveLength(1);
  });

  it('refuses stale and unknown refs, telling the model to take a new snapshot', async () => {
    const snap = snapshotOf(await call(client, 'browser_navigate', { url: 'http://localhost:8080/' }));
    const vanish = refOf(snap, /button "Vanish"/);
    await call(client, 'browser_click', { ref: vanish });
    const stale = await call(client, 'browser_click', { ref: vanish });
    expect(stale.isError).toBe(true);
    expect(text(stale)).toMatch(/(stale|not in the latest snapshot).*browser_snapshot/s);
    const unknown = await call(client, 'browser_click', { ref: 'e9999' });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toContain('browser_snapshot');
    const keyOk = await call(client, 'browser_press_key', { key: 'Tab' });
    expect(keyOk.isError).toBeFalsy();
    const badKey = await call(client, 'browser_press_key', { key: 'NoSuchKey' });
    expect(badKey.isError).toBe(true);
  });

  it('answers bad URLs and closed ports with errors that say what to do', async () => {
    const bad = await call(client, 'browser_navigate', { url: 'not a url at all' });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/not a valid URL/);
    const refused = await call(client, 'browser_navigate', { url: 'http://localhost:8099/' });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/connection refused.*shell_start/s);
  });

  it("reaches the sandbox's files but neither the host's loopback services nor its files", async () => {
    const marker = `host-secret-${Date.now()}`;
    const host = http.createServer((_q, s) => s.end(marker));
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', () => r()));
    const port = (host.address() as AddressInfo).port;
    const hostFile = path.join(state.dir, 'host-marker.html');
    writeFileSync(hostFile, `<p>${marker}</p>`);
    try {
      const viaHost = await call(client, 'browser_navigate', { url: `http://127.0.0.1:${port}/` });
      expect(viaHost.isError).toBe(true);
      expect(text(viaHost)).not.toContain(marker);
      const file = await call(client, 'browser_navigate', { url: `file://${hostFile}` });
      expect(text(file)).not.toContain(marker);
      expect(file.isError).toBe(true);
      const bare = await call(client, 'browser_navigate', { url: hostFile }); // a bare path means file://
      expect(bare.isError).toBe(true);
      expect(text(bare)).not.toContain(marker);
      // The sandbox's own files do open, so the refusal above is about the host, not file:// itself.
      await sh(client, `echo '<h1>${marker}-inside</h1>' > /workspace/inside.html`);
      const inside = await call(client, 'browser_navigate', { url: '/workspace/inside.html' });
      expect(text(inside)).toContain(`${marker}-inside`);
    } finally {
      host.close();
    }
  });

  it('accepts dialogs and says so', async () => {
    await sh(client, `cat > site/dialog.html`, {
      stdin: "<title>D</title><button onclick=\"document.title = confirm('Sure?') ? 'yes' : 'no'\">Ask</button>",
    });
    const snap = snapshotOf(await call(client, 'browser_navigate', { url: 'http://localhost:8080/dialog.html' }));
    const r = await call(client, 'browser_click', { ref: refOf(snap, /button "Ask"/) });
    expect(text(r)).toMatch(/confirm dialog "Sure\?"; it was accepted/);
    expect(r.structuredContent!.title).toBe('yes');
  });

  it('closes the browser (its processes end) and relaunches it with a note', async () => {
    expect((await chromiumPids(id)).length).toBeGreaterThan(0);
    const closed = await call(client, 'browser_close');
    expect(closed.structuredContent).toEqual({ closed: true });
    await waitNoChromium(id);
    const again = await call(client, 'browser_navigate', { url: 'http://localhost:8080/' });
    expect(again.isError).toBeFalsy();
    expect(text(again)).toContain('fresh browser');
    expect(again.structuredContent!.title).toBe('Signup');
  }, 120_000);

  it('relaunches after Chromium dies, with a note, keeping one browser per session', async () => {
    expect((await call(client, 'browser_navigate', { url: 'http://localhost:8080/' })).isError).toBeFalsy();
    const pids = await chromiumPids(id);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await waitNoChromium(id);
    const r = await call(client, 'browser_navigate', { url: 'http://localhost:8080/two.html' });
    expect(r.isError, text(r)).toBeFalsy();
    expect(text(r)).toMatch(/previous browser stopped/);
    // Exactly one browser for the session: one Chromium main process (helpers carry --type=).
    const mains = (await hostProcessesWith(`--sandbox-mcp-id=${id}`)).filter(
      (l) => !l.includes('--type=') && !/^\d+: nsenter /.test(l),
    );
    expect(mains).toHaveLength(1);
  }, 120_000);
});

describe.skipIf(!!skip)('browser in an unshare sandbox (no bubblewrap)', () => {
  it("runs inside the sandbox there too: its loopback, not the host's, and no capabilities", async () => {
    const state = tempDir();
    const { client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_ISOLATION: 'unshare' });
    const host = http.createServer((_q, s) => s.end('host page'));
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', () => r()));
    try {
      await serveInSandbox(client, 8080, { 'index.html': FORM });
      const nav = await call(client, 'browser_navigate', { url: 'http://127.0.0.1:8080/' });
      expect(snapshotOf(nav)).toMatch(/textbox "Name"/);
      const viaHost = await call(client, 'browser_navigate', {
        url: `http://127.0.0.1:${(host.address() as AddressInfo).port}/`,
      });
      expect(viaHost.isError).toBe(true);
      const id = await sandboxId(client);
      const main = (await hostProcessesWith(`--sandbox-mcp-id=${id}`)).find(
        (l) => !l.includes('--type=') && !/^\d+: nsenter /.test(l),
      )!;
      const { readFileSync } = await import('node:fs');
      const status = readFileSync(`/proc/${main.split(':')[0]}/status`, 'utf8');
      expect(status).toMatch(/CapEff:\s+0+\n/);
      expect(status).toMatch(/NoNewPrivs:\s+1/);
    } finally {
      host.close();
      await client.close();
      state.cleanup();
    }
  }, 120_000);
});

describe('browser tools without Chromium', () => {
  it('answer with an install hint while the rest of the server works', async () => {
    const state = tempDir();
    const { client } = await stdioClient({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_CHROMIUM_PATH: '/nonexistent/chromium',
    });
    try {
      const r = await call(client, 'browser_navigate', { url: 'http://localhost:8080/' });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/no Chromium at \/nonexistent\/chromium.*apt-get install -y chromium/s);
      expect((await sh(client, 'echo still here')).stdout).toBe('still here\n');
    } finally {
      await client.close();
      state.cleanup();
    }
  });
});
