import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

export interface Fetched {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET through the server's listener on 127.0.0.1, naming the virtual host in the Host header. */
export function fetchHost(
  port: number,
  host: string,
  path = '/',
  headers: Record<string, string> = {},
): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(20_000, () => req.destroy(new Error('fetch timed out')));
    req.on('error', reject);
  });
}

/** Splits a preview or site URL into the listener port and the Host header to send. */
export function hostOf(url: string): { port: number; host: string } {
  const u = new URL(url);
  return { port: Number(u.port), host: u.host };
}

/** A tiny echo WebSocket server using only Node built-ins, to run inside the sandbox. */
export const WS_ECHO_SERVER = `
const http = require('http'), crypto = require('crypto');
const s = http.createServer((q, r) => r.end('plain http on the ws server'));
s.on('upgrade', (req, sock) => {
  const acc = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + acc + '\\r\\n\\r\\n');
  sock.on('data', (d) => {
    const len = d[1] & 127, mask = d.subarray(2, 6), p = Buffer.alloc(len);
    for (let i = 0; i < len; i++) p[i] = d[6 + i] ^ mask[i % 4];
    const out = Buffer.from('echo:' + p.toString());
    sock.write(Buffer.concat([Buffer.from([0x81, out.length]), out]));
  });
});
s.listen(Number(process.env.PORT), () => console.log('ws ready'));
`;

/** Opens a WebSocket through the proxy with raw frames, sends one text message, returns the reply. */
export function wsRoundTrip(
  port: number,
  host: string,
  message: string,
): Promise<{ status: string; accepted: boolean; reply: string }> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const sock = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('websocket round trip timed out'));
    }, 20_000);
    let buf = Buffer.alloc(0);
    let head: string | undefined;
    sock.on('error', reject);
    sock.write(
      `GET /socket HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (head === undefined) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 4);
        if (!head.startsWith('HTTP/1.1 101')) {
          clearTimeout(timer);
          sock.destroy();
          resolve({ status: head.split('\r\n')[0]!, accepted: false, reply: '' });
          return;
        }
        const payload = Buffer.from(message);
        const mask = randomBytes(4);
        const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
        sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
      }
      if (buf.length >= 2 && buf.length >= 2 + (buf[1]! & 127)) {
        clearTimeout(timer);
        const reply = buf.subarray(2, 2 + (buf[1]! & 127)).toString();
        sock.destroy();
        resolve({
          status: head.split('\r\n')[0]!,
          accepted: head.includes(`Sec-WebSocket-Accept: ${expected}`),
          reply,
        });
      }
    });
  });
}

/** A raw HTTP request to the server (default path /mcp), for what the SDK client would never send. */
export function rawRequest(
  port: number,
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path ?? '/mcp', headers: o.headers },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

export const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});
export const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
