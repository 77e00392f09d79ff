import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDaytona } from './fakes/daytona.js';
import { FakeE2B } from './fakes/e2b.js';
import { call, sh, stdioClient, tempDir, text } from './helpers.js';

/**
 * Named workspaces on the cloud providers (built CLI over stdio, the real SDKs against the fakes): the
 * sandbox is the workspace's only storage, so a server shutting down leaves it to the vendor, and the
 * next server reattaches it by its labels instead of reaping it as an orphan.
 */
let e2b: FakeE2B;
let daytona: FakeDaytona;
const states: ReturnType<typeof tempDir>[] = [];

beforeAll(async () => {
  e2b = await new FakeE2B().start();
  daytona = await new FakeDaytona().start();
});
afterAll(async () => {
  for (const s of states) s.cleanup();
  await e2b?.stop();
  await daytona?.stop();
});

const sandboxId = async (c: Awaited<ReturnType<typeof stdioClient>>['client']) =>
  (await call(c, 'sandbox_info')).structuredContent!.id as string;

describe.each([
  {
    name: 'e2b',
    env: () => ({ SANDBOX_PROVIDER: 'e2b', E2B_API_KEY: e2b.apiKey, E2B_API_URL: e2b.url, E2B_SANDBOX_URL: e2b.url }),
  },
  {
    name: 'daytona',
    env: () => ({ SANDBOX_PROVIDER: 'daytona', DAYTONA_API_KEY: daytona.apiKey, DAYTONA_SERVER_URL: daytona.url }),
  },
])('SANDBOX_WORKSPACE on $name (fake API)', ({ name, env }) => {
  it('a restarted server reattaches the workspace sandbox, files and all; a session without it gets its own', async () => {
    const state = tempDir(`sbx-ws-${name}-`);
    states.push(state);
    const base = { ...env(), SANDBOX_STATE_DIR: state.dir, SANDBOX_WORKSPACE_TTL: '600' };
    const first = await stdioClient({ ...base, SANDBOX_WORKSPACE: 'cloudproj' });
    await sh(first.client, 'echo remembered > notes.txt');
    const id = await sandboxId(first.client);
    await first.client.close();

    // The new server's orphan reaping runs at its start: it must leave the workspace sandbox alone.
    const second = await stdioClient({ ...base, SANDBOX_WORKSPACE: 'cloudproj' });
    expect(await sandboxId(second.client)).toBe(id);
    expect((await sh(second.client, 'cat notes.txt')).stdout).toBe('remembered\n');
    await second.client.close();

    const plain = await stdioClient(base);
    expect(await sandboxId(plain.client)).not.toBe(id);
    await plain.client.close();
  }, 60_000);
});

it('E2B keeps a released workspace sandbox for SANDBOX_WORKSPACE_TTL, not just E2B_TIMEOUT', async () => {
  const state = tempDir('sbx-ws-e2b-ttl-');
  states.push(state);
  const c = await stdioClient({
    SANDBOX_PROVIDER: 'e2b',
    E2B_API_KEY: e2b.apiKey,
    E2B_API_URL: e2b.url,
    E2B_SANDBOX_URL: e2b.url,
    E2B_TIMEOUT: '30',
    SANDBOX_STATE_DIR: state.dir,
    SANDBOX_WORKSPACE: 'longer',
    SANDBOX_WORKSPACE_TTL: '900',
  });
  const id = await sandboxId(c.client);
  await c.client.close();
  const s = e2b.sandboxes.get(id)!;
  expect(s.alive).toBe(true);
  expect(s.endAt - Date.now()).toBeGreaterThan(800_000);
});

it('E2B: a workspace sandbox no session holds lives for SANDBOX_WORKSPACE_TTL, not just E2B_TIMEOUT', async () => {
  const state = tempDir('sbx-ws-e2b-idle-');
  states.push(state);
  const { startHttpServer, httpClient } = await import('./helpers.js');
  const server = await startHttpServer({
    SANDBOX_PROVIDER: 'e2b',
    E2B_API_KEY: e2b.apiKey,
    E2B_API_URL: e2b.url,
    E2B_SANDBOX_URL: e2b.url,
    E2B_TIMEOUT: '30',
    SANDBOX_STATE_DIR: state.dir,
    SANDBOX_WORKSPACE_TTL: '900',
  });
  try {
    const c = await httpClient(server.url, { 'Sandbox-Workspace': 'idle' });
    const id = await sandboxId(c.client);
    await c.transport.terminateSession();
    await c.client.close();
    const s = e2b.sandboxes.get(id)!;
    // The session's DELETE returns before the lifetime is extended: give it a moment.
    const deadline = Date.now() + 5000;
    while (s.endAt - Date.now() < 800_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(s.alive).toBe(true);
    expect(s.endAt - Date.now()).toBeGreaterThan(800_000);
  } finally {
    await server.stop();
  }
}, 60_000);

it('Daytona: a workspace sandbox the vendor stopped (auto-stop) is started again, files kept, not replaced', async () => {
  const state = tempDir('sbx-ws-dtn-stop-');
  states.push(state);
  const c = await stdioClient({
    SANDBOX_PROVIDER: 'daytona',
    DAYTONA_API_KEY: daytona.apiKey,
    DAYTONA_SERVER_URL: daytona.url,
    SANDBOX_STATE_DIR: state.dir,
    SANDBOX_WORKSPACE: 'stopped',
  });
  try {
    await sh(c.client, 'echo still-here > notes.txt');
    const id = await sandboxId(c.client);
    daytona.sandboxes.get(id)!.state = 'stopped'; // what Daytona's auto-stop does to an idle sandbox
    // The first call may find it stopped and fail; the next one runs in the same sandbox, started again.
    const texts: string[] = [];
    let r = await call(c.client, 'shell_exec', { command: 'cat notes.txt' });
    texts.push(text(r));
    if (r.isError) {
      r = await call(c.client, 'shell_exec', { command: 'cat notes.txt' });
      texts.push(text(r));
    }
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as { stdout: string }).stdout).toBe('still-here\n');
    expect(texts.join('\n')).toMatch(/was restarted.*files are kept/);
    expect(await sandboxId(c.client)).toBe(id);
    expect(
      [...daytona.sandboxes.values()].filter((s) => s.labels.workspace === 'stopped' && s.state !== 'destroyed').length,
    ).toBe(1);
  } finally {
    await c.client.close();
  }
}, 60_000);
