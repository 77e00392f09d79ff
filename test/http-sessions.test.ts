import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INIT, MCP_HEADERS, rawRequest } from './web-helpers.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  CLI,
  call,
  hostProcessesWith,
  httpClient,
  sh,
  startHttpServer,
  tempDir,
  text,
  waitFor,
  type HttpServer,
  type ToolResult,
} from './helpers.js';

describe('HTTP transport: session TTL, allowed hosts and origins', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    state = tempDir();
    server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_SESSION_TTL: '2',
      SANDBOX_ALLOWED_HOSTS: 'fd00::1',
      SANDBOX_ALLOWED_ORIGINS: 'https://App.example.com/',
    });
  });
  afterAll(async () => {
    await server?.stop();
    state?.cleanup();
  });

  it('a tool call that runs longer than SANDBOX_SESSION_TTL gets its answer; its session is not expired under it', async () => {
    const { client } = await httpClient(server.url);
    const r = await client.callTool(
      { name: 'shell_exec', arguments: { command: 'sleep 4; echo finished', timeout_s: 30 } },
      undefined,
      { timeout: 15_000 },
    );
    expect((r.structuredContent as { stdout: string }).stdout).toBe('finished\n');
    expect((await sh(client, 'echo still-here')).stdout).toBe('still-here\n');
    await client.close();
  });

  it('an IPv6 address in SANDBOX_ALLOWED_HOSTS is accepted as the Host header clients send for it ([addr]:port)', async () => {
    const allowed = await rawRequest(server.port, {
      method: 'POST',
      headers: { ...MCP_HEADERS, host: `[fd00::1]:${server.port}` },
      body: INIT,
    });
    expect(allowed.status).toBe(200);
    const other = await rawRequest(server.port, {
      method: 'POST',
      headers: { ...MCP_HEADERS, host: `[fd00::2]:${server.port}` },
      body: INIT,
    });
    expect(other.status).toBe(403);
  });

  it('an allowed origin written with a trailing slash or capitals matches the Origin header browsers send', async () => {
    const allowed = await rawRequest(server.port, {
      method: 'POST',
      headers: { ...MCP_HEADERS, origin: 'https://app.example.com' },
      body: INIT,
    });
    expect(allowed.status).toBe(200);
    const other = await rawRequest(server.port, {
      method: 'POST',
      headers: { ...MCP_HEADERS, origin: 'https://app.example.org' },
      body: INIT,
    });
    expect(other.status).toBe(403);
  });
});

// Its own server: with the 2 s session TTL above, a loaded machine could expire a session between calls.
describe('MCP logging per HTTP session', () => {
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

  it('MCP logging honours the level each HTTP session set with logging/setLevel', async () => {
    const quiet = await httpClient(server.url);
    const chatty = await httpClient(server.url);
    const heard = { quiet: [] as string[], chatty: [] as string[] };
    quiet.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      heard.quiet.push(`${n.params.level}: ${String(n.params.data)}`);
    });
    chatty.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      heard.chatty.push(`${n.params.level}: ${String(n.params.data)}`);
    });
    await quiet.client.setLoggingLevel('error');
    await chatty.client.setLoggingLevel('warning');
    for (const { client } of [quiet, chatty]) {
      await sh(client, 'true');
      await call(client, 'shell_exec', { command: 'kill -9 -1' }); // the sandbox dies: a warning follows at the next call
      await sh(client, 'echo back');
    }
    await waitFor(() => heard.chatty.some((m) => m.startsWith('warning: sandbox ended unexpectedly')), 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(heard.quiet).toEqual([]);
    await quiet.client.close();
    await chatty.client.close();
  });
});

describe('calls cut short by the end of their session', () => {
  it('a call running when its session is DELETEd gets a result saying so, not a stream that ends unanswered', async () => {
    const state = tempDir();
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
    try {
      const { client, transport } = await httpClient(server.url);
      const marker = `del-mid-${Date.now()}`;
      const pending = client.callTool(
        { name: 'shell_exec', arguments: { command: `sleep 60; echo ${marker}`, timeout_s: 90 } },
        undefined,
        { timeout: 8000 },
      );
      await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 10_000);
      const del = await rawRequest(server.port, {
        method: 'DELETE',
        headers: { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' },
      });
      expect(del.status).toBe(200);
      const r = (await pending) as ToolResult;
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/session ended while it ran.*Start a new session/);
      await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 5000);
    } finally {
      await server.stop();
      state.cleanup();
    }
  });

  it('a call still running when the shutdown grace runs out gets a result saying so; nothing is left behind', async () => {
    const state = tempDir();
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_SHUTDOWN_GRACE: '1' });
    try {
      const { client } = await httpClient(server.url);
      const marker = `grace-out-${Date.now()}`;
      const pending = client.callTool(
        { name: 'shell_exec', arguments: { command: `sleep 60; echo ${marker}`, timeout_s: 90 } },
        undefined,
        { timeout: 8000 },
      );
      await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 10_000);
      expect(await server.stop()).toBe(0);
      const r = (await pending) as ToolResult;
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/session ended while it ran.*server is shutting down/);
      expect(await hostProcessesWith(marker)).toEqual([]);
      expect(readdirSync(path.join(state.dir, 'sandboxes'))).toEqual([]);
    } finally {
      await server.stop();
      state.cleanup();
    }
  });
});

describe('bearer token', () => {
  it('accepts the auth scheme in any case, and only the exact token', async () => {
    const state = tempDir();
    const token = 'review-token-0123456789';
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_MCP_AUTH_TOKEN: token });
    try {
      const post = (authorization: string) =>
        rawRequest(server.port, { method: 'POST', headers: { ...MCP_HEADERS, authorization }, body: INIT });
      expect((await post(`bearer ${token}`)).status).toBe(200);
      expect((await post(`BEARER ${token}`)).status).toBe(200);
      expect((await post(`Bearer ${token}`)).status).toBe(200);
      expect((await post(`Bearer ${token.toUpperCase()}`)).status).toBe(401);
      expect((await post(`Basic ${token}`)).status).toBe(401);
      expect((await post(token)).status).toBe(401);
    } finally {
      await server.stop();
      state.cleanup();
    }
  });
});

describe('start-up problems', () => {
  it('doctor and serve say the state dir is unusable and how to fix it', () => {
    const t = tempDir();
    const file = path.join(t.dir, 'not-a-folder');
    writeFileSync(file, 'x');
    try {
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        SANDBOX_STATE_DIR: file,
      };
      const doctor = spawnSync(process.execPath, [CLI, 'doctor', '--json'], { env, encoding: 'utf8', timeout: 30_000 });
      expect(doctor.status).toBe(1);
      const step = (JSON.parse(doctor.stdout) as { steps: { ok: boolean; detail: string }[] }).steps[0];
      expect(step.ok).toBe(false);
      expect(step.detail).toContain(file);
      expect(step.detail).toMatch(/SANDBOX_STATE_DIR/);
      const serve = spawnSync(process.execPath, [CLI, '--port', '0'], { env, encoding: 'utf8', timeout: 30_000 });
      expect(serve.status).toBe(1);
      expect(serve.stderr).toMatch(/sandbox-mcp: cannot start: .*state dir.*SANDBOX_STATE_DIR/);
    } finally {
      t.cleanup();
    }
  });

  it('a port already in use says how to recover and leaves no server record behind', async () => {
    const t = tempDir();
    const holder = http.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as AddressInfo).port;
    try {
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        SANDBOX_STATE_DIR: t.dir,
      };
      const serve = spawnSync(process.execPath, [CLI, '--port', String(port)], {
        env,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(serve.status).toBe(1);
      expect(serve.stderr).toMatch(
        /sandbox-mcp: cannot start: .*EADDRINUSE.*SANDBOX_MCP_PORT \(0 takes any free one\)/,
      );
      expect(readdirSync(path.join(t.dir, 'servers'))).toEqual([]);
    } finally {
      holder.close();
      t.cleanup();
    }
  });
});

describe('SANDBOX_MAX_SESSIONS', () => {
  it('a new client displaces the longest-idle session without a sandbox; with none to displace, 503 names the option', async () => {
    const state = tempDir();
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_MAX_SESSIONS: '2' });
    const clients: { close(): Promise<void> }[] = [];
    try {
      const a = await httpClient(server.url);
      clients.push(a.client);
      expect((await sh(a.client, 'echo a > mine; cat mine')).stdout).toBe('a\n'); // a holds a sandbox
      const b = await httpClient(server.url); // b only initialized
      clients.push(b.client);
      const c = await httpClient(server.url); // at the limit: b gives way
      clients.push(c.client);
      const stale = await rawRequest(server.port, {
        method: 'POST',
        headers: { ...MCP_HEADERS, 'mcp-session-id': b.transport.sessionId! },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
      expect(stale.status).toBe(404);
      expect((await sh(a.client, 'cat mine')).stdout).toBe('a\n'); // a keeps its sandbox and files
      expect((await sh(c.client, 'echo c')).stdout).toBe('c\n'); // now c holds one too
      const refused = await rawRequest(server.port, { method: 'POST', headers: MCP_HEADERS, body: INIT });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatch(/SANDBOX_MAX_SESSIONS.*retry later/);
    } finally {
      for (const c of clients) await c.close().catch(() => undefined);
      await server.stop();
      state.cleanup();
    }
  });
});
