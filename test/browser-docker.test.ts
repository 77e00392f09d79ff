import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngSize, refOf, serveInSandbox, snapshotOf } from './browser-helpers.js';
import { DOCKER_IMAGE, dockerSkip, expectNoContainersLeft } from './docker-env.js';
import { call, sh, stdioClient, tempDir, text, waitFor } from './helpers.js';

/**
 * The browser tools with SANDBOX_PROVIDER=docker: Chromium from the image runs inside the container
 * (network none) and the server reaches its DevTools port over CDP through a host loopback listener.
 */
const skip = dockerSkip ?? imageWithoutChromium();
if (skip) console.warn(`[browser-docker] skipped: ${skip}`);

function imageWithoutChromium(): string | undefined {
  return DOCKER_IMAGE.endsWith('bookworm-v2')
    ? `image ${DOCKER_IMAGE} predates Chromium in the test image; build bookworm-v3 with scripts/docker-test-image.sh`
    : undefined;
}

const PAGE = `<!doctype html><html><head><title>Counter</title></head><body>
<h1>Counter</h1><p id="n">count 0</p>
<button onclick="const p = document.getElementById('n'); p.textContent = 'count ' + (Number(p.textContent.split(' ')[1]) + 1)">Add one</button>
</body></html>`;

/** Chromium processes in the container, as "user args" lines (its own ps, so inside the sandbox). */
async function chromiumInSandbox(client: Client): Promise<string[]> {
  const r = await sh(client, 'ps -eo user:12,args | grep -E "^\\S+ +\\S*chrom" | grep -v grep || true');
  return r.stdout.split('\n').filter(Boolean);
}

describe.skipIf(!!skip)('browser tools over stdio on docker (Chromium in the container, over CDP)', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    state = tempDir('sbx-docker-browser-');
    ({ client } = await stdioClient({
      SANDBOX_PROVIDER: 'docker',
      SANDBOX_DOCKER_IMAGE: DOCKER_IMAGE,
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_MEMORY_MB: '1024',
      SANDBOX_CPUS: '1',
      SANDBOX_EXEC_TIMEOUT: '30',
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    }));
    await serveInSandbox(client, 8080, { 'index.html': PAGE });
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    try {
      if (state) await expectNoContainersLeft(state.dir);
    } finally {
      state?.cleanup();
    }
  });

  it('navigates to a page served inside the container, clicks by ref and takes a real screenshot', async () => {
    const nav = await call(client, 'browser_navigate', { url: 'http://localhost:8080/' });
    const snap = snapshotOf(nav);
    expect(nav.structuredContent).toMatchObject({ url: 'http://localhost:8080/', title: 'Counter' });
    expect(snap).toMatch(/heading "Counter"/);
    expect(snap).toContain('count 0');
    const clicked = await call(client, 'browser_click', { ref: refOf(snap, /button "Add one"/) });
    expect(clicked.isError).toBeFalsy();
    expect(snapshotOf(await call(client, 'browser_snapshot'))).toContain('count 1');
    const shot = await call(client, 'browser_screenshot');
    const img = shot.content.find((c) => c.type === 'image') as { data: string; mimeType: string };
    expect(img.mimeType).toBe('image/png');
    expect(pngSize(img.data)).toMatchObject({ width: 1280, height: 720 });
  }, 120_000);

  it('runs Chromium inside the container as the sandbox user', async () => {
    const procs = await chromiumInSandbox(client);
    expect(procs.length).toBeGreaterThan(0);
    for (const p of procs) expect(p).toMatch(/^(user|1000)\s/);
    expect(procs.join('\n')).toContain('--remote-debugging-address=127.0.0.1');
  });

  it("cannot reach a server on the host's loopback", async () => {
    const marker = `host-secret-${Date.now()}`;
    const host = http.createServer((_q, s) => s.end(marker));
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', () => r()));
    const port = (host.address() as AddressInfo).port;
    try {
      const r = await call(client, 'browser_navigate', { url: `http://127.0.0.1:${port}/` });
      expect(r.isError).toBe(true);
      expect(text(r)).not.toContain(marker);
    } finally {
      host.close();
    }
  }, 60_000);

  it('browser_close ends Chromium in the container; the next call starts a fresh one', async () => {
    const closed = await call(client, 'browser_close');
    expect(closed.structuredContent).toEqual({ closed: true });
    await waitFor(async () => (await chromiumInSandbox(client)).length === 0, 15_000);
    const again = await call(client, 'browser_navigate', { url: 'http://localhost:8080/' });
    expect(again.isError).toBeFalsy();
    expect(text(again)).toContain('fresh browser');
    expect(snapshotOf(again)).toContain('count 0');
    expect((await chromiumInSandbox(client)).length).toBeGreaterThan(0);
  }, 120_000);
});
