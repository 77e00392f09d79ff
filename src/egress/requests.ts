import http from 'node:http';
import net from 'node:net';

/** Parsing and answering proxy requests: the parts of the egress proxy that hold no state. */

/** `host:port` of a CONNECT request (`[v6]:port` for IPv6). */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const m = authority.match(/^(\[[0-9a-fA-F:.]+\]|[^:[\]/@\s]+):(\d{1,5})$/);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}

/** A name the system resolver would take for an IPv4 address in decimal, octal or hex (no TLD is numeric). */
export function looksNumeric(host: string): boolean {
  if (net.isIP(host)) return false;
  const last = host.split('.').pop() ?? '';
  return /^(0x[0-9a-f]*|[0-9]+)$/.test(last);
}

export function rawResponse(status: number, body: string): string {
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

export function plainResponse(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
}
