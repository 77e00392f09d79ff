import http from 'node:http';
import net from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, httpClient, startHttpServer, tempDir, text, type HttpServer, type ToolResult } from '../helpers.js';
import { INIT, MCP_HEADERS } from '../web-helpers.js';

/** GET /healthz from a chosen loopback source address (127.0.0.1 or 127.0.0.2: loopback only). */
function health(port: number, localAddress = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', localAddress, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('healthz timed out')));
    req.on('error', reject);
  });
}

/**
 * Sends `head` at once, then `bytes` one per second (at most `maxS` of them), and resolves when the server
 * closes the connection, with what it answered and after how long; or when the bytes run out, closed false.
 */
function dribble(
  port: number,
  head: string,
  bytes: string,
  maxS: number,
): Promise<{ closed: boolean; afterMs: number; answer: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = net.connect({ host: '127.0.0.1', port });
    if (head) sock.write(head);
    let answer = '';
    let sent = 0;
    const timer = setInterval(() => {
      if (sent >= Math.min(bytes.length, maxS)) {
        clearInterval(timer);
        sock.destroy();
        resolve({ closed: false, afterMs: Date.now() - started, answer });
        return;
      }
      sock.write(bytes[sent++]!);
    }, 1000);
    sock.on('data', (d) => (answer += d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearInterval(timer);
      resolve({ closed: true, afterMs: Date.now() - started, answer });
    });
  });
}

describe('HTTP edges: slow clients, connection caps', () => {
  let state: ReturnType<typeof tempDir>;
  let server: HttpServer;
  let client: Client;

  beforeAll(async () => {
    state = tempDir('sbx-sec-http-');
    server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_REQUEST_TIMEOUT: '3',
      SANDBOX_MAX_CONNECTIONS_PER_CLIENT: '6',
      SANDBOX_MAX_BODY: '65536',
    });
    ({ client } = await httpClient(server.url));
  }, 30_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    state?.cleanup();
  });

  it('a client sending its headers one byte per second is cut off with 408; the server stays healthy', async () => {
    const slow = dribble(server.port, '', `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(40)}`, 15);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await health(server.port)).status).toBe(200);
    const r = await slow;
    expect(r.closed).toBe(true);
    expect(r.afterMs).toBeLessThan(8000);
    expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
    expect((await health(server.port)).status).toBe(200);
  }, 20_000);

  it('a client sending its body one byte per second is cut off after SANDBOX_REQUEST_TIMEOUT', async () => {
    const head =
      'POST /mcp HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 200\r\n\r\n';
    const r = await dribble(server.port, head, '{'.repeat(200), 15);
    expect(r.closed).toBe(true);
    expect(r.afterMs).toBeLessThan(8000);
    expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
    expect((await health(server.port)).status).toBe(200);
  }, 20_000);

  it('a tool call that runs longer than the request timeout still gets its answer (the timeout bounds sending, not the response)', async () => {
    const r = await call(client, 'shell_exec', { command: 'sleep 7; echo still-here' });
    expect(r.isError, text(r)).toBeFalsy();
    expect(r.structuredContent!.stdout).toBe('still-here\n');
    expect((await call(client, 'shell_exec', { command: 'echo again' })).structuredContent!.stdout).toBe('again\n');
  }, 30_000);

  it('a GET event stream stays open longer than the request timeout', async () => {
    const init = await fetch(`http://127.0.0.1:${server.port}/mcp`, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: INIT,
    });
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.text();
    const headers = { ...MCP_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
    await (
      await fetch(`http://127.0.0.1:${server.port}/mcp`, {
        method: 'POST',
        headers,
        body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      })
    ).text();
    const stream = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .get(
          {
            host: '127.0.0.1',
            port: server.port,
            path: '/mcp',
            headers: { ...headers, accept: 'text/event-stream' },
            agent: false,
          },
          resolve,
        )
        .on('error', reject);
    });
    expect(stream.statusCode).toBe(200);
    let ended = false;
    stream
      .on('close', () => {
        ended = true;
      })
      .resume();
    await new Promise((r) => setTimeout(r, 5000));
    expect(ended).toBe(false);
    stream.destroy();
  }, 20_000);

  it('an address holding the most connections gets 429 for more; another address is served; the server stays healthy', async () => {
    const held = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect({ host: '127.0.0.1', port: server.port }, () => resolve(s));
            s.on('error', reject);
          }),
      ),
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      const refused = await health(server.port);
      expect(refused.status).toBe(429);
      expect(refused.body).toMatch(/holds 6 connections.*SANDBOX_MAX_CONNECTIONS_PER_CLIENT/);
      const other = await health(server.port, '127.0.0.2');
      expect(other.status).toBe(200);
      expect(JSON.parse(other.body)).toMatchObject({ status: 'ok' });
    } finally {
      for (const s of held) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 300));
    expect((await health(server.port)).status).toBe(200);
  }, 20_000);

  it('a chunked body over SANDBOX_MAX_BODY (no content-length to refuse up front) gets 413', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'POST',
          path: '/mcp',
          headers: { ...MCP_HEADERS, 'transfer-encoding': 'chunked' },
          agent: false,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write('x'.repeat(8192));
      req.end();
    });
    expect(status).toBe(413);
    expect((await health(server.port)).status).toBe(200);
  });
});

describe('HTTP edges: default timeouts', () => {
  it('a shell_exec of over 60 s completes over HTTP with the default request timeout', async () => {
    const state = tempDir('sbx-sec-http-long-');
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
    const { client } = await httpClient(server.url);
    try {
      const r = (await client.callTool(
        { name: 'shell_exec', arguments: { command: 'sleep 65; echo finished', timeout_s: 100 } },
        undefined,
        { timeout: 100_000 },
      )) as ToolResult;
      expect(r.isError, text(r)).toBeFalsy();
      expect(r.structuredContent!.stdout).toBe('finished\n');
    } finally {
      await client.close();
      await server.stop();
      state.cleanup();
    }
  }, 120_000);
});
