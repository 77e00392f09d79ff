import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing } from '../browser-helpers.js';
import { call, stdioClient, tempDir, text, waitFor } from '../helpers.js';

/**
 * A page the browser visits is untrusted too. One whose script never gives its main thread back
 * answers nothing Chromium asks of it (its title, its accessibility tree): browser calls must still
 * come back, saying what happened, and other tabs must keep working.
 */
const noChromium = chromiumMissing();
if (noChromium) console.warn(`[security hostile-page] skipped: ${noChromium}`);

describe.skipIf(!!noChromium)('a page that keeps its main thread busy', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    state = tempDir('sbx-sec-page-');
    ({ client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_BROWSER_ACTION_TIMEOUT: '3' }));
  });
  afterAll(async () => {
    await client?.close();
    state?.cleanup();
  });

  it('cannot hang browser calls, and a new tab still works', async () => {
    const nav = await call(client, 'browser_navigate', { url: 'data:text/html,<title>busy</title><h1>busy</h1>' });
    expect(nav.isError, text(nav)).toBeFalsy();
    // From now on the page's script never gives its main thread back.
    const busy = await call(client, 'browser_evaluate', {
      function: '() => { setTimeout(() => { for (;;) {} }, 100); }',
    });
    expect(busy.isError, text(busy)).toBeFalsy();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const [tool, args] of [
      ['browser_snapshot', {}],
      ['browser_tabs', { action: 'list' }],
    ] as const) {
      const started = performance.now();
      const result = await call(client, tool, args);
      // The 3 s action budget and slack; without bounds these never return.
      expect(performance.now() - started, `${tool}: ${text(result)}`).toBeLessThan(20_000);
    }
    const opened = await call(client, 'browser_tabs', { action: 'new', url: 'data:text/html,<h1>calm</h1>' });
    expect(opened.isError, text(opened)).toBeFalsy();
    expect(text(await call(client, 'browser_snapshot'))).toContain('calm');
  }, 120_000);

  it('raising dialogs without end floods neither the server nor the results', async () => {
    const nav = await call(client, 'browser_navigate', { url: 'data:text/html,<h1>dialogs</h1>' });
    expect(nav.isError, text(nav)).toBeFalsy();
    await call(client, 'browser_evaluate', {
      function:
        '() => { setTimeout(() => { for (let i = 0; i < 300; i++) alert("storm " + i); window.stormDone = true; }, 50); }',
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const results: string[] = [];
    const done = await waitFor(
      async () => {
        const r = await call(client, 'browser_evaluate', { function: '() => window.stormDone === true' });
        results.push(text(r));
        return r.structuredContent?.result === 'true';
      },
      60_000,
      500,
    );
    expect(done).toBe(true);
    const dialogLines = results.map((r) => r.split('\n').filter((line) => line.includes('dialog')).length);
    // Each result carries at most 20 of them, and says how many more there were.
    expect(Math.max(...dialogLines)).toBeLessThanOrEqual(20);
    expect(results.join('\n')).toMatch(/\d+ more notes like these were left out/);
  }, 120_000);
});
