import dns from 'node:dns/promises';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import { classifyAddress } from './addresses.js';
import { hostAllowed, normaliseHost } from './allow-list.js';
import { looksNumeric, parseAuthority, plainResponse, rawResponse } from './requests.js';

export { parseAuthority } from './requests.js';

/** Every address a name resolves to (the system resolver by default; tests pin names to addresses). */
export type Resolver = (host: string) => Promise<string[]>;
/** Opens the TCP connection to an address already checked (tests point it at a local server). */
export type Dialer = (address: string, port: number) => net.Socket;

/** Why a request passed or not: a small fixed set, so it can label a metric. */
export type EgressReason =
  'allowed' | 'not_on_allow_list' | 'non_public_address' | 'unresolvable' | 'connection_cap' | 'malformed';

/** Where a gate reports what it decided and moved, beside its own counters (the server's totals). */
export interface EgressTally {
  decided(reason: EgressReason): void;
  moved(bytesUp: number, bytesDown: number): void;
}

export interface EgressPolicy {
  allow: readonly string[];
  maxConnections: number;
  resolve?: Resolver;
  dial?: Dialer;
  tally?: EgressTally;
}

export interface EgressCounters {
  bytesUp: number;
  bytesDown: number;
  allowed: number;
  refused: number;
  openConnections: number;
}

const systemResolver: Resolver = async (host) =>
  (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
const tcpDialer: Dialer = (address, port) => net.connect({ host: address, port, allowHalfOpen: true });
const SETTING = 'SANDBOX_EGRESS_ALLOW (--egress-allow)';
/** A proxied connection with no traffic either way for this long is closed. */
const IDLE_TIMEOUT_MS = 10 * 60_000;

type Decision = { ok: true; address: string; rule: string } | { ok: false; status: number; body: string };

/**
 * One sandbox's door to the internet: an HTTP forward proxy (CONNECT for HTTPS, absolute-form for plain
 * HTTP) fed the connections the sandbox opens. A destination passes only when its name is on the allow
 * list AND every address it resolves to is public; the connection then goes to the very address that
 * was checked, so a second lookup cannot hand back another one (DNS rebinding). Nothing is sent
 * anywhere before both checks pass.
 */
export class EgressGate {
  private readonly server: http.Server;
  private readonly open = new Set<net.Socket>();
  private readonly totals = { bytesUp: 0, bytesDown: 0, allowed: 0, refused: 0 };
  private readonly resolve: Resolver;
  private readonly dial: Dialer;

  constructor(
    private readonly policy: EgressPolicy,
    private log: Logger,
  ) {
    this.resolve = policy.resolve ?? systemResolver;
    this.dial = policy.dial ?? tcpDialer;
    this.server = http.createServer({ maxHeaderSize: 16 * 1024 });
    // A failure past the checks (a dialer that throws, a socket gone mid-way) ends that connection only.
    this.server.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      this.tunnel(req, socket, head).catch(() => socket.destroy());
    });
    this.server.on('request', (req, res) => {
      this.forward(req, res).catch(() => res.destroy());
    });
    this.server.on('clientError', (_err, socket) => {
      socket.destroy();
    });
  }

  /** A connection from the sandbox: served as HTTP proxy traffic, within the per-sandbox cap. */
  accept(socket: net.Socket): void {
    if (this.open.size >= this.policy.maxConnections) {
      this.refusedOverCap(this.open.size);
      socket.on('error', () => undefined);
      socket.end(
        rawResponse(
          503,
          `sandbox-mcp egress proxy: this sandbox already holds ${this.open.size} proxy connections, the most SANDBOX_EGRESS_MAX_CONNECTIONS allows. Close some (or let them finish) and retry; the operator may raise SANDBOX_EGRESS_MAX_CONNECTIONS.\n`,
        ),
      );
      return;
    }
    this.open.add(socket);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      this.open.delete(socket);
      this.totals.bytesUp += socket.bytesRead;
      this.totals.bytesDown += socket.bytesWritten;
      this.policy.tally?.moved(socket.bytesRead, socket.bytesWritten);
    });
    this.server.emit('connection', socket);
  }

  /** From now on, log lines carry these fields too (a pooled sandbox learns its session when claimed). */
  relabel(fields: Record<string, string>): void {
    this.log = this.log.child(fields);
  }

  /** A connection turned away at the per-sandbox cap (here, or by the docker relay on the server's word). */
  refusedOverCap(open: number): void {
    this.totals.refused++;
    this.policy.tally?.decided('connection_cap');
    this.log.warn({ verdict: 'refused', rule: 'connection cap', openConnections: open }, 'egress');
  }

  counters(): EgressCounters {
    const open = this.openTraffic();
    return {
      bytesUp: this.totals.bytesUp + open.bytesUp,
      bytesDown: this.totals.bytesDown + open.bytesDown,
      allowed: this.totals.allowed,
      refused: this.totals.refused,
      openConnections: open.openConnections,
    };
  }

  /** What the connections still open have moved so far. */
  openTraffic(): { bytesUp: number; bytesDown: number; openConnections: number } {
    let up = 0;
    let down = 0;
    for (const s of this.open) {
      up += s.bytesRead;
      down += s.bytesWritten;
    }
    return { bytesUp: up, bytesDown: down, openConnections: this.open.size };
  }

  close(): void {
    for (const s of this.open) s.destroy();
    this.server.close();
  }

  private async tunnel(req: http.IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    client.on('error', () => client.destroy());
    const target = parseAuthority(req.url ?? '');
    if (!target) {
      this.countMalformed(req.url ?? '');
      return void client.end(
        rawResponse(
          400,
          `sandbox-mcp egress proxy: CONNECT needs host:port, got ${JSON.stringify((req.url ?? '').slice(0, 200))}\n`,
        ),
      );
    }
    const decision = await this.decide(target.host, target.port);
    if (!decision.ok) return void client.end(rawResponse(decision.status, decision.body));
    const upstream = this.dial(decision.address, target.port);
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (error) => {
      if (upstream.connecting)
        client.end(
          rawResponse(
            502,
            `sandbox-mcp egress proxy: cannot connect to ${target.host}:${target.port} (${decision.address}): ${error.message}\n`,
          ),
        );
      else client.destroy();
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }

  private async forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '');
    } catch {
      /* origin-form: not a proxy request */
    }
    if (!url || url.protocol !== 'http:') {
      this.countMalformed(req.url ?? '');
      return plainResponse(
        res,
        400,
        'sandbox-mcp egress proxy: send plain HTTP requests in absolute form (http://host/path) and HTTPS through CONNECT; HTTP_PROXY and HTTPS_PROXY are set for this.\n',
      );
    }
    const port = Number(url.port || 80);
    const decision = await this.decide(url.hostname, port);
    if (!decision.ok) return plainResponse(res, decision.status, decision.body);
    const headers = { ...req.headers };
    for (const h of ['proxy-connection', 'proxy-authorization', 'connection', 'keep-alive']) delete headers[h];
    // The name that was checked is the one the upstream serves: no other site behind the same address.
    headers.host = url.host;
    const upstream = http.request({
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      createConnection: () => this.dial(decision.address, port),
    });
    upstream.on('response', (request) => {
      const out = { ...request.headers };
      for (const h of ['connection', 'keep-alive']) delete out[h];
      res.writeHead(request.statusCode ?? 502, out);
      request.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) plainResponse(res, 502, `sandbox-mcp egress proxy: ${url.host} failed: ${error.message}\n`);
      else res.destroy();
    });
    req.pipe(upstream);
  }

  private countMalformed(target: string): void {
    this.totals.refused++;
    this.policy.tally?.decided('malformed');
    this.log.info({ target: target.slice(0, 200), verdict: 'refused', rule: 'malformed request' }, 'egress');
  }

  /** The allow list first (no lookup for a name that is not on it), then every resolved address. */
  private async decide(rawHost: string, port: number): Promise<Decision> {
    const host = normaliseHost(rawHost);
    // 2130706433, 0x7f.1, 127.1: the resolver reads these as IPv4 addresses in forms no DNS name takes.
    if (host && looksNumeric(host))
      return this.refuse(
        host,
        port,
        'numeric host name',
        'malformed',
        403,
        `sandbox-mcp egress proxy: refused ${host}: a host name whose last label is a number is an IP address in disguise; give a DNS name or a dotted-quad IPv4 address.\n`,
      );
    const listed = host ? hostAllowed(host, this.policy.allow) : { allowed: false as const };
    if (!host || !listed.allowed) {
      const shown = host ?? JSON.stringify(rawHost.slice(0, 100));
      return this.refuse(
        shown,
        port,
        'not on the allow list',
        'not_on_allow_list',
        403,
        `sandbox-mcp egress proxy: refused ${shown}: the name is not on the egress allow list (${SETTING}: ${this.policy.allow.join(', ') || 'empty'}).\n` +
          `To allow it, the operator adds the name (or a *.domain pattern) to ${SETTING} and restarts sandbox-mcp.\n`,
      );
    }
    let addresses: string[];
    try {
      addresses = net.isIP(host) ? [host] : await this.resolve(host);
    } catch (e) {
      return this.refuse(
        host,
        port,
        'unresolvable',
        'unresolvable',
        502,
        `sandbox-mcp egress proxy: cannot resolve ${host}: ${(e as Error).message}. Check the name; the proxy resolves names on the server's machine.\n`,
      );
    }
    // One non-public answer refuses the name outright: a mixed answer is how rebinding attacks start.
    for (const address of addresses) {
      const v = classifyAddress(address);
      if (!v.public) {
        return this.refuse(
          host,
          port,
          `${v.range} address`,
          'non_public_address',
          403,
          `sandbox-mcp egress proxy: refused ${host}: it resolves to ${address}, a ${v.range} address, which the proxy never connects to whatever ${SETTING} says.\n` +
            'Use a public host; services on this machine or its network are reachable only with SANDBOX_NETWORK=host (trusted use).\n',
        );
      }
    }
    const address = addresses[0];
    if (!address)
      return this.refuse(
        host,
        port,
        'unresolvable',
        'unresolvable',
        502,
        `sandbox-mcp egress proxy: ${host} has no address.\n`,
      );
    this.totals.allowed++;
    this.policy.tally?.decided('allowed');
    this.log.info({ host, port, address, verdict: 'allowed', rule: listed.rule }, 'egress');
    return { ok: true, address, rule: listed.rule };
  }

  private refuse(
    host: string,
    port: number,
    rule: string,
    reason: EgressReason,
    status: number,
    body: string,
  ): Decision {
    this.totals.refused++;
    this.policy.tally?.decided(reason);
    this.log.info({ host, port, verdict: 'refused', rule }, 'egress');
    return { ok: false, status, body };
  }
}
