import { readlinkSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { DaytonaProvider } from '../src/providers/daytona/provider.js';
import { E2BProvider } from '../src/providers/e2b/provider.js';
import type { BrowserEndpoint, Sandbox, SandboxProvider } from '../src/providers/types.js';
import { CHROMIUM, chromiumMissing } from './browser-helpers.js';
import { FakeDaytona } from './fakes/daytona.js';
import { FakeE2B } from './fakes/e2b.js';
import { hostProcessesWith, tempDir, waitFor } from './helpers.js';

/**
 * browserEndpoint on the cloud adapters, with the real SDKs against the fakes. The fakes run commands on
 * this machine, so Chromium really starts through the vendor's process API and we can watch it end; the
 * port URL names the vendor's (unreachable) host, so connecting is left to the docker test.
 */
const skip = chromiumMissing();
if (skip) console.warn(`[browser-cloud] skipped: ${skip}`);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(env: Record<string, string>) {
  const { dir } = tempDir('sbx-cloudb-');
  dirs.push(dir);
  return loadConfig({}, { SANDBOX_STATE_DIR: dir, ...env });
}

/**
 * Profile folders of the sandbox Chromiums the fakes started: those in this process's pid namespace.
 * Other test files' Chromiums (in containers, in local sandboxes) use the same folder names but run in
 * namespaces of their own.
 */
async function profiles(): Promise<Set<string>> {
  const ours = readlinkSync('/proc/self/ns/pid');
  const sameNamespace = (line: string) => {
    try {
      return readlinkSync(`/proc/${line.split(':')[0]}/ns/pid`) === ours;
    } catch {
      return false;
    }
  };
  const lines = (await hostProcessesWith('--user-data-dir=/tmp/sandbox-mcp-chromium-')).filter(sameNamespace);
  return new Set(lines.map((l) => /--user-data-dir=([^\s'"]+)/.exec(l)?.[1]).filter((p): p is string => !!p));
}

/** Launches through browserEndpoint, checks the URL, then close(): that launch's processes must end. */
async function launchAndClose(sb: Sandbox, url: RegExp): Promise<BrowserEndpoint & { kind: 'cdp' }> {
  const before = await profiles();
  const ep = await sb.browserEndpoint!({ chromiumPath: CHROMIUM });
  if (ep.kind !== 'cdp') throw new Error(`expected a cdp endpoint, got ${ep.kind}`);
  let mine: string[] = [];
  try {
    expect(ep.url).toMatch(url);
    mine = [...(await profiles())].filter((p) => !before.has(p));
    expect(mine).toHaveLength(1);
    // The fakes' "sandbox" is this machine, so the DevTools port itself can be asked what the URL names.
    const port = /^wss:\/\/(\d+)-/.exec(ep.url)![1];
    const version = (await (await fetch(`http://127.0.0.1:${port}/json/version`)).json()) as {
      webSocketDebuggerUrl: string;
    };
    expect(new URL(version.webSocketDebuggerUrl).pathname).toBe(new URL(ep.url).pathname);
  } finally {
    await ep.close!();
  }
  await waitFor(async () => (await hostProcessesWith(`--user-data-dir=${mine[0]}`)).length === 0, 10_000);
  return ep;
}

describe.skipIf(!!skip)('browser endpoint on e2b (fake)', () => {
  let fake: FakeE2B;
  let provider: SandboxProvider;
  let sb: Sandbox;
  beforeAll(async () => {
    fake = await new FakeE2B().start();
    provider = await E2BProvider.start(
      config({
        SANDBOX_PROVIDER: 'e2b',
        E2B_API_KEY: fake.apiKey,
        E2B_API_URL: fake.url,
        E2B_SANDBOX_URL: fake.url,
        E2B_DOMAIN: 'sandbox.example.test',
      }),
      createLogger('silent'),
    );
    sb = await provider.create({ labels: { session: 's1' }, timeoutMs: 60_000 });
  });
  afterAll(async () => {
    await provider?.shutdown();
    await fake?.stop();
  });

  it('starts Chromium through the E2B process API, returns the wss port URL of its DevTools port, and close() ends it', async () => {
    const url = () => new RegExp(`^wss://(\\d+)-${sb.id}\\.sandbox\\.example\\.test/devtools/browser/[\\w-]+$`);
    const first = await launchAndClose(sb, url());
    // A relaunch works (Chromium picks a free port each time, so no clash with the previous one).
    const second = await launchAndClose(sb, url());
    expect(second.url).not.toBe(first.url);
  }, 90_000);
});

describe.skipIf(!!skip)('browser endpoint on daytona (fake)', () => {
  let fake: FakeDaytona;
  let provider: SandboxProvider;
  let sb: Sandbox;
  beforeAll(async () => {
    fake = await new FakeDaytona().start();
    provider = await DaytonaProvider.start(
      config({ SANDBOX_PROVIDER: 'daytona', DAYTONA_API_KEY: fake.apiKey, DAYTONA_SERVER_URL: fake.url }),
      createLogger('silent'),
    );
    sb = await provider.create({ labels: { session: 's1' }, timeoutMs: 60_000 });
  });
  afterAll(async () => {
    await provider?.shutdown();
    await fake?.stop();
  });

  it('starts Chromium through the Daytona process API and returns the preview URL as wss with the token header', async () => {
    const ep = await launchAndClose(
      sb,
      new RegExp(`^wss://\\d+-${sb.id}\\.proxy\\.daytona\\.fake/devtools/browser/[\\w-]+$`),
    );
    expect(ep.headers).toEqual({ 'x-daytona-preview-token': `preview-${sb.id}` });
  }, 90_000);
});
