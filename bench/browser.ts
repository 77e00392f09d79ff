import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Client } from '@modelcontextprotocol/client';
import { connectOurs, connectStdio } from './client.js';
import { compare, summarize, time, type BenchRunner } from '../src/ops/stats.js';

const CHROMIUM = '/usr/bin/chromium';
const PORT = 8080;

/** A small but real page: headings, a form, a list and links, like a dev server's first screen. */
const PAGE = `<!doctype html><html><head><title>Bench</title></head><body>
<header><h1>Dashboard</h1><nav><a href="/a">Home</a> <a href="/b">Reports</a> <a href="/c">Settings</a></nav></header>
<main><form><label>Search <input name="q"></label><select aria-label="Range"><option>Day</option><option>Week</option></select><button>Go</button></form>
<ul>${Array.from({ length: 30 }, (_, i) => `<li><a href="/item/${i}">Item ${i}</a> <button>Open ${i}</button></li>`).join('')}</ul></main>
</body></html>`;

async function tool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<void> {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content).slice(0, 500)}`);
}

const serverScript = `require('http').createServer((q, s) => { s.setHeader('content-type', 'text/html'); s.end(${JSON.stringify(PAGE)}); }).listen(${PORT}, '127.0.0.1', () => console.log('serving'))`;

/** Ours: the page is served inside the session's sandbox, where its browser lives. */
async function oursReady(stateDir: string): Promise<Client> {
  const client = await connectOurs({
    SANDBOX_STATE_DIR: stateDir,
    SANDBOX_WARM_POOL: '0',
    SANDBOX_CHROMIUM_PATH: CHROMIUM,
  });
  await tool(client, 'shell_exec', { command: 'cat > serve.js', stdin: serverScript });
  await tool(client, 'shell_start', { command: 'node serve.js', name: 'web' });
  await tool(client, 'shell_read', { processId: 'web', until: 'serving', wait_s: 10 });
  return client;
}

function playwrightMcpCli(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@playwright/mcp/package.json')), 'cli.js');
}

/** playwright-mcp with the same Chromium, headless, isolated profile; the page on the host's loopback, where its browser lives. */
function theirs(outputDir: string): Promise<Client> {
  return connectStdio(process.execPath, [
    playwrightMcpCli(),
    '--headless',
    '--browser',
    'chromium',
    '--executable-path',
    CHROMIUM,
    '--isolated',
    '--no-sandbox',
    '--output-dir',
    outputDir,
  ]);
}

/**
 * Issue 5's target: warm browser_navigate + browser_snapshot p50 no slower than @playwright/mcp's on
 * the same page, same Chromium, same run. Also the first navigate of a session (browser launch).
 */
export const browserBench: BenchRunner = async ({ iterations, stateDir, log }) => {
  if (!existsSync(CHROMIUM)) {
    return {
      name: 'browser',
      metrics: {},
      comparisons: [],
      notes: [`skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`],
    };
  }
  const host = http.createServer((_q, s) => {
    s.setHeader('content-type', 'text/html');
    s.end(PAGE);
  });
  await new Promise<void>((r) => host.listen(0, '127.0.0.1', () => r()));
  const theirUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}/`;
  const ourUrl = `http://127.0.0.1:${PORT}/`;
  const outputDir = path.join(stateDir, 'playwright-mcp-output');
  const firstOurs: number[] = [];
  const firstTheirs: number[] = [];
  const warmOurs: number[] = [];
  const warmTheirs: number[] = [];
  try {
    const launches = Math.max(3, Math.round(iterations / 6));
    for (let i = 0; i < launches; i++) {
      const o = await oursReady(stateDir);
      firstOurs.push((await time(() => tool(o, 'browser_navigate', { url: ourUrl })))[0]);
      await o.close();
      const t = await theirs(outputDir);
      firstTheirs.push((await time(() => tool(t, 'browser_navigate', { url: theirUrl })))[0]);
      await t.close();
      log(
        `launch ${i + 1}/${launches}: ours ${firstOurs.at(-1)!.toFixed(0)} ms, playwright-mcp ${firstTheirs.at(-1)!.toFixed(0)} ms`,
      );
    }
    const o = await oursReady(stateDir);
    const t = await theirs(outputDir);
    await tool(o, 'browser_navigate', { url: ourUrl });
    await tool(t, 'browser_navigate', { url: theirUrl });
    // Interleaved, so drift in machine load hits both sides alike.
    for (let i = 0; i < iterations; i++) {
      warmOurs.push(
        (
          await time(async () => {
            await tool(o, 'browser_navigate', { url: ourUrl });
            await tool(o, 'browser_snapshot');
          })
        )[0],
      );
      warmTheirs.push(
        (
          await time(async () => {
            await tool(t, 'browser_navigate', { url: theirUrl });
            await tool(t, 'browser_snapshot');
          })
        )[0],
      );
    }
    log(`warm: ${iterations} rounds each`);
    await o.close();
    await t.close();
  } finally {
    host.close();
  }
  const m = {
    'first browser_navigate (launch), ours': summarize(firstOurs),
    'first browser_navigate (launch), playwright-mcp': summarize(firstTheirs),
    'warm navigate + snapshot, ours': summarize(warmOurs),
    'warm navigate + snapshot, playwright-mcp': summarize(warmTheirs),
  };
  const ours = m['warm navigate + snapshot, ours'].p50;
  const base = m['warm navigate + snapshot, playwright-mcp'].p50;
  const fo = m['first browser_navigate (launch), ours'].p50;
  const fb = m['first browser_navigate (launch), playwright-mcp'].p50;
  return {
    name: 'browser',
    metrics: m,
    comparisons: [
      compare(
        'warm navigate + snapshot p50',
        ours,
        '@playwright/mcp p50',
        base,
        'ours <= playwright-mcp',
        ours <= base,
      ),
      compare('first navigate (with launch) p50', fo, '@playwright/mcp p50', fb, 'informational', true),
    ],
    notes: [
      "same Chromium (/usr/bin/chromium), headless, same page; ours runs Chromium inside the session's sandbox and serves the page there, playwright-mcp on the host",
      "ours: first navigate excludes sandbox creation (the session's shell calls made it)",
    ],
  };
};
