import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { isSandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Sandbox } from '../providers/types.js';

/** `<port>-<sandboxId>`: the first label of the preview address of one port of one sandbox. */
const PREVIEW_LABEL = /^(\d{1,5})-([a-z0-9]{8,64})$/;

/** Parses the part of a Host name before the preview domain (`3000-abc123...`). */
export function parsePreviewLabel(label: string): { port: number; sandboxId: string } | undefined {
  const m = PREVIEW_LABEL.exec(label);
  if (!m) return undefined;
  const port = Number(m[1]);
  if (port < 1 || port > 65535) return undefined;
  return { port, sandboxId: m[2]! };
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  return {
    'x-forwarded-for': req.socket.remoteAddress ?? '',
    'x-forwarded-host': req.headers.host ?? '',
    // Behind a TLS-terminating proxy (SANDBOX_PUBLIC_URL https://...), keep the scheme it reported.
    'x-forwarded-proto': String(req.headers['x-forwarded-proto'] ?? 'http')
      .split(',')[0]!
      .trim(),
  };
}

/**
 * A dev server's absolute redirect to its own loopback (`http://localhost:3000/login`) would send the
 * browser to the host's loopback, where that server is not: point it at that port's preview instead.
 */
function previewLocation(location: string, req: IncomingMessage): string {
  const m = /^(https?:)?\/\/(localhost|127\.0\.0\.1|\[::1\]|0\.0\.0\.0)(?::(\d{1,5}))?(?=[/?#]|$)/i.exec(location);
  if (!m) return location;
  const port = m[3] ?? (m[1]?.toLowerCase() === 'https:' ? '443' : '80');
  const host = String(req.headers.host ?? '').replace(/^\d+-/, `${port}-`);
  return `${forwardedHeaders(req)['x-forwarded-proto']}://${host}${location.slice(m[0].length)}`;
}

export function notFound(res: ServerResponse, message: string): void {
  res
    .writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
    .end(`404 Not Found\n${message}\n`);
}

/** Finds the sandbox behind a preview id; undefined for unknown or dead ones (their previews 404). */
export type SandboxLookup = (sandboxId: string) => Sandbox | undefined | Promise<Sandbox | undefined>;

async function open(sandbox: Sandbox, port: number): Promise<Duplex | string> {
  if (!sandbox.connectPort) return "this sandbox's provider serves previews at its own URL";
  try {
    return await sandbox.connectPort(port);
  } catch (e) {
    return isSandboxError(e) ? e.describe() : 'cannot reach that port';
  }
}

/** Proxies one HTTP request to a sandbox port; one upstream connection per request. */
export async function proxyRequest(
  req: IncomingMessage,
  res: ServerResponse,
  sandbox: Sandbox,
  port: number,
  log: Logger,
): Promise<void> {
  const upstream = await open(sandbox, port);
  if (typeof upstream === 'string') return notFound(res, upstream);
  // The client may have left while the port opened: its 'close' is gone, so nothing would end this one.
  if (req.socket.destroyed) return void upstream.destroy();
  // Null-prototype maps: header names come from the client and the sandbox ("__proto__" is a valid one).
  const headers: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
  Object.assign(headers, forwardedHeaders(req), { connection: 'close' });
  const preq = http.request({ method: req.method, path: req.url, headers, createConnection: () => upstream as never });
  preq.on('response', (pres) => {
    const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
    for (const [k, v] of Object.entries(pres.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    if (typeof out.location === 'string') out.location = previewLocation(out.location, req);
    res.writeHead(pres.statusCode ?? 502, pres.statusMessage, out);
    pres.pipe(res);
    pres.on('error', () => res.destroy());
  });
  preq.on('error', (err) => {
    log.debug({ err: err.message, port }, 'preview upstream failed');
    if (!res.headersSent)
      res
        .writeHead(502, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`502 Bad Gateway\nthe server on port ${port} closed the connection: ${err.message}\n`);
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) {
      preq.destroy();
      upstream.destroy();
    }
  });
  req.pipe(preq);
}

/** Proxies a WebSocket (or any Upgrade) handshake, then pipes raw bytes both ways. */
export async function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  sandbox: Sandbox,
  port: number,
): Promise<void> {
  socket.on('error', () => socket.destroy());
  const upstream = await open(sandbox, port);
  if (typeof upstream === 'string') {
    socket.end(
      `HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n404 Not Found\n${upstream}\n`,
    );
    return;
  }
  if (socket.destroyed) return void upstream.destroy();
  const lines = [`${req.method} ${req.url} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  for (const [k, v] of Object.entries(forwardedHeaders(req))) lines.push(`${k}: ${v}`);
  upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (head.length) upstream.write(head);
  const end = () => {
    socket.destroy();
    upstream.destroy();
  };
  upstream.on('error', end).on('close', end);
  socket.on('close', end);
  upstream.pipe(socket);
  socket.pipe(upstream);
}
