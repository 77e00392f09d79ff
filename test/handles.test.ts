import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  hostProcessesWith,
  httpClient,
  startHttpServer,
  tempDir,
  text,
  waitFor,
  type HttpServer,
  type ToolCaller,
} from './helpers.js';
import { modernHttpClient, modernStdioClient } from './modern-helpers.js';

/** Explicit sandbox handles: how a stateless (2026-07-28) call names its sandbox, and every way a handle fails. */

async function create(client: ToolCaller, args: Record<string, unknown> = {}): Promise<string> {
  const r = await call(client, 'sandbox_create', args);
  if (r.isError) throw new Error(`sandbox_create failed: ${text(r)}`);
  return r.structuredContent!.sandbox as string;
}

async function refused(client: ToolCaller, sandbox: string, pattern: RegExp): Promise<void> {
  const r = await call(client, 'shell_exec', { command: 'echo reached > /workspace/reached.txt', sandbox });
  expect(r.isError, text(r)).toBe(true);
  expect(text(r)).toMatch(pattern);
  expect(text(r)).toMatch(/sandbox_create/); // and how to get a new one
}

describe('sandbox handles over stateless HTTP', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  const token = 'handles-token-0123456789';
  const auth = { Authorization: `Bearer ${token}` };
  beforeAll(async () => {
    state = tempDir();
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_MCP_AUTH_TOKEN: token });
  });
  afterAll(async () => {
    await server?.stop();
    state?.cleanup();
  });

  it('a call with no handle and no workspace is told to call sandbox_create', async () => {
    const { client } = await modernHttpClient(server.url, auth);
    const r = await call(client, 'shell_exec', { command: 'true' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/reaches no sandbox.*call sandbox_create once, then pass the sandbox it returns/);
    expect(readdirSync(path.join(state.dir, 'sandboxes'))).toEqual([]);
    await client.close();
  });

  it('sandbox_create mints an unguessable handle that is not the sandbox id; calls with it share one sandbox', async () => {
    const { client } = await modernHttpClient(server.url, auth);
    const a = await create(client);
    const b = await create(client);
    expect(Buffer.from(a.slice(4), 'base64url').length).toBeGreaterThanOrEqual(16 + 16);
    await call(client, 'shell_exec', { command: 'echo in-a > a.txt', sandbox: a });
    expect((await call(client, 'file_read', { path: 'a.txt', sandbox: a })).structuredContent).toBeDefined();
    expect((await call(client, 'shell_exec', { command: 'cat a.txt', sandbox: a })).structuredContent!.stdout).toBe(
      'in-a\n',
    );
    expect(
      (await call(client, 'shell_exec', { command: 'cat a.txt 2>&1; true', sandbox: b })).structuredContent!.stdout,
    ).toMatch(/No such file/);
    const idA = (await call(client, 'sandbox_info', { sandbox: a })).structuredContent!.id as string;
    const idB = (await call(client, 'sandbox_info', { sandbox: b })).structuredContent!.id as string;
    expect(idA).not.toBe(idB);
    expect(a).not.toContain(idA);
    // A second client (another stateless request stream) with the same token reaches the same sandbox.
    const other = await modernHttpClient(server.url, auth);
    expect(
      (await call(other.client, 'shell_exec', { command: 'cat a.txt', sandbox: a })).structuredContent!.stdout,
    ).toBe('in-a\n');
    await Promise.all([client.close(), other.client.close()]);
  });

  it('sandbox_delete kills the sandbox and its processes; the handle then says it was deleted', async () => {
    const { client } = await modernHttpClient(server.url, auth);
    const sb = await create(client);
    const marker = `handle-del-${Date.now()}`;
    await call(client, 'shell_start', { command: `sleep 300; echo ${marker}`, sandbox: sb });
    const id = (await call(client, 'sandbox_info', { sandbox: sb })).structuredContent!.id as string;
    expect((await hostProcessesWith(marker)).length).toBeGreaterThan(0);
    const del = await call(client, 'sandbox_delete', { sandbox: sb });
    expect(del.structuredContent).toEqual({ deleted: true });
    await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 10_000);
    await waitFor(() => !existsSync(path.join(state.dir, 'sandboxes', id)), 10_000);
    await refused(client, sb, /deleted with sandbox_delete/);
    const again = await call(client, 'sandbox_delete', { sandbox: sb });
    expect(again.isError).toBe(true);
    await client.close();
  });

  it('forged and mistyped handles reach nothing', async () => {
    const { client } = await modernHttpClient(server.url, auth);
    const sb = await create(client);
    const raw = Buffer.from(sb.slice(4), 'base64url');
    raw[3] ^= 0x40; // another id, same everything else: a guess at a neighbour's handle
    await refused(client, `sbx-${raw.toString('base64url')}`, /did not issue this sandbox handle/);
    await refused(client, 'not-a-handle', /not a sandbox handle/);
    await refused(client, `${sb}x`, /not a sandbox handle|did not issue/);
    expect(
      (await call(client, 'shell_exec', { command: 'ls /workspace', sandbox: sb })).structuredContent!.stdout,
    ).not.toContain('reached');
    await client.close();
  });

  it('a handle made in a 2025 session works there only; a stateless one is refused inside a session', async () => {
    const a = await httpClient(server.url, auth);
    const b = await httpClient(server.url, auth);
    const modern = await modernHttpClient(server.url, auth);
    const ofA = await create(a.client);
    expect(
      (await call(a.client, 'shell_exec', { command: 'echo a-extra', sandbox: ofA })).structuredContent!.stdout,
    ).toBe('a-extra\n');
    await refused(b.client, ofA, /belongs to another MCP session or connection/);
    await refused(modern.client, ofA, /belongs to the MCP session .* that created it/);
    const stateless = await create(modern.client);
    await refused(a.client, stateless, /made by a stateless \(MCP 2026-07-28\) request/);
    // A session's handles end with it.
    const own = (await call(a.client, 'sandbox_info', { sandbox: ofA })).structuredContent!.id as string;
    await a.transport.terminateSession();
    await waitFor(() => !existsSync(path.join(state.dir, 'sandboxes', own)), 10_000);
    await Promise.all([
      a.client.close(),
      b.transport.terminateSession().then(() => b.client.close()),
      modern.client.close(),
    ]);
  });

  it('sandbox_create with a workspace reaches the workspace a header names', async () => {
    const header = await modernHttpClient(server.url, { ...auth, 'Sandbox-Workspace': 'handles-ws' });
    await call(header.client, 'shell_exec', { command: 'echo via-header > ws.txt' });
    const { client } = await modernHttpClient(server.url, auth);
    const created = await call(client, 'sandbox_create', { workspace: 'handles-ws' });
    expect(created.structuredContent).toMatchObject({ workspace: 'handles-ws' });
    const sb = created.structuredContent!.sandbox as string;
    expect((await call(client, 'shell_exec', { command: 'cat ws.txt', sandbox: sb })).structuredContent!.stdout).toBe(
      'via-header\n',
    );
    expect((await call(client, 'sandbox_delete', { sandbox: sb })).structuredContent).toEqual({
      deleted: true,
      workspace: 'handles-ws',
    });
    // The workspace lives on for the header's calls.
    expect((await call(header.client, 'shell_exec', { command: 'cat ws.txt' })).structuredContent!.stdout).toBe(
      'via-header\n',
    );
    await Promise.all([client.close(), header.client.close()]);
  });
});

describe('sandbox handles across restarts and tokens', () => {
  it('after a restart a handle has expired; under another token it is refused as such', async () => {
    const state = tempDir();
    const first = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_MCP_AUTH_TOKEN: 'first-token-0123456789',
    });
    let sb: string;
    try {
      const { client } = await modernHttpClient(first.url, { Authorization: 'Bearer first-token-0123456789' });
      sb = await create(client);
      await client.close();
    } finally {
      await first.stop();
    }
    const same = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_MCP_AUTH_TOKEN: 'first-token-0123456789',
    });
    try {
      const { client } = await modernHttpClient(same.url, { Authorization: 'Bearer first-token-0123456789' });
      await refused(client, sb, /has expired.*restarted/);
      await client.close();
    } finally {
      await same.stop();
    }
    const other = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_MCP_AUTH_TOKEN: 'other-token-0123456789',
    });
    try {
      const { client } = await modernHttpClient(other.url, { Authorization: 'Bearer other-token-0123456789' });
      await refused(client, sb, /created under another bearer token/);
      await client.close();
    } finally {
      await other.stop();
      state.cleanup();
    }
  });

  it('an idle handle expires with its sandbox and says so', async () => {
    const state = tempDir();
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_IDLE_TIMEOUT: '1' });
    try {
      const { client } = await modernHttpClient(server.url);
      const sb = await create(client);
      await waitFor(() => readdirSync(path.join(state.dir, 'sandboxes')).length === 0, 10_000);
      await refused(client, sb, /expired: its sandbox had no call for 1 s/);
      await client.close();
    } finally {
      await server.stop();
      state.cleanup();
    }
  });
});

describe('sandbox handles over stdio', () => {
  it('a pinned stdio client has its connection sandbox and may create more', async () => {
    const state = tempDir();
    const { client } = await modernStdioClient({ SANDBOX_STATE_DIR: state.dir });
    try {
      await call(client, 'shell_exec', { command: 'echo own > own.txt' });
      const sb = await create(client);
      expect(
        (await call(client, 'shell_exec', { command: 'cat own.txt 2>&1; true', sandbox: sb })).structuredContent!
          .stdout,
      ).toMatch(/No such file/);
      expect((await call(client, 'shell_exec', { command: 'cat own.txt' })).structuredContent!.stdout).toBe('own\n');
    } finally {
      await client.close();
      state.cleanup();
    }
  });
});
