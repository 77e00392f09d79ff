import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyAddress } from '../src/egress/addresses.js';
import { hostAllowed, normaliseHost } from '../src/egress/allow-list.js';
import { EgressGate, parseAuthority } from '../src/egress/proxy.js';
import { createLogger } from '../src/logger.js';

describe('egress address classifier', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['10.1.2.3', 'private (RFC 1918)'],
    ['172.16.0.1', 'private (RFC 1918)'],
    ['172.31.255.255', 'private (RFC 1918)'],
    ['192.168.1.1', 'private (RFC 1918)'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'shared CGNAT'],
    ['100.127.255.254', 'shared CGNAT'],
    ['224.0.0.1', 'multicast'],
    ['239.1.1.1', 'multicast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fd00::1', 'private (unique local)'],
    ['fc12::1', 'private (unique local)'],
    ['fe80::1', 'link-local (cloud metadata)'],
    ['fe80::1%eth0', 'link-local (cloud metadata)'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback, IPv4-mapped'],
    ['::ffff:7f00:1', 'loopback, IPv4-mapped'],
    ['::ffff:169.254.169.254', 'link-local (cloud metadata), IPv4-mapped'],
    ['::ffff:a00:1', 'private (RFC 1918), IPv4-mapped'],
    ['::127.0.0.1', 'loopback, IPv4-mapped'],
    ['0:0:0:0:0:ffff:c0a8:101', 'private (RFC 1918), IPv4-mapped'],
    ['64:ff9b::127.0.0.1', 'loopback, IPv4-mapped'],
    ['64:ff9b::a9fe:a9fe', 'link-local (cloud metadata), IPv4-mapped'],
    ['registry', 'not an IP address'],
  ])('refuses %s (%s)', (address, range) => {
    expect(classifyAddress(address)).toEqual({ public: false, range });
  });

  // Documentation and other "reserved" ranges are not refused: a registry mirror may resolve into one.
  it.each([
    '203.0.113.80',
    '198.51.100.1',
    '192.0.2.1',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '172.15.255.255',
    '2001:db8::1',
    '2606:4700::1',
    '::ffff:203.0.113.80',
    '64:ff9b::cb00:7150',
  ])('lets %s through', (address) => {
    expect(classifyAddress(address)).toEqual({ public: true });
  });
});

describe('egress allow list', () => {
  const allow = ['registry.example', '*.mirror.example', 'Upper.Example'];
  it.each([
    ['registry.example', 'registry.example'],
    ['REGISTRY.example.', 'registry.example'],
    ['a.mirror.example', '*.mirror.example'],
    ['a.b.mirror.example', '*.mirror.example'],
    ['upper.example', 'Upper.Example'],
  ])('allows %s by %s', (host, rule) => expect(hostAllowed(host, allow)).toEqual({ allowed: true, rule }));
  it.each([
    'mirror.example',
    'xmirror.example',
    'registry.example.evil',
    'evilregistry.example',
    'other.example',
    'a b',
    'user@registry.example',
    '',
  ])('refuses %s', (host) => {
    expect(hostAllowed(host, allow)).toEqual({ allowed: false });
  });
  it('* allows any well-formed host, an empty list none', () => {
    expect(hostAllowed('anything.example', ['*']).allowed).toBe(true);
    expect(hostAllowed('anything.example', []).allowed).toBe(false);
  });
  it('normalises names and IPv6 literals', () => {
    expect(normaliseHost('[::1]')).toBe('::1');
    expect(normaliseHost('Example.COM.')).toBe('example.com');
    expect(normaliseHost('exa/mple')).toBeUndefined();
    expect(parseAuthority('[::1]:443')).toEqual({ host: '[::1]', port: 443 });
    expect(parseAuthority('host:0')).toBeUndefined();
    expect(parseAuthority('host')).toBeUndefined();
  });
});

/**
 * The proxy in-process, with a resolver pinning test names to addresses and a dialer that records
 * every address it is asked for: "public" 203.0.113.7 is served by a local HTTP server, and nothing
 * else is ever dialled, so no packet leaves this machine.
 */
describe('egress proxy', () => {
  const PUBLIC = '203.0.113.7';
  const names: Record<string, string[]> = {
    'pub.test': [PUBLIC],
    'mirror.test': ['10.1.2.3'],
    'mixed.test': [PUBLIC, '127.0.0.1'],
    localhost: ['127.0.0.1'],
    'meta.test': ['169.254.169.254'],
  };
  const dialled: string[] = [];
  let upstream: http.Server;
  let upstreamPort = 0;
  let front: net.Server;
  let proxyPort = 0;
  let gate: EgressGate;

  beforeAll(async () => {
    upstream = http.createServer((req, res) => res.end(`hello from ${req.headers.host}${req.url}`));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as net.AddressInfo).port;
    gate = new EgressGate(
      {
        allow: ['pub.test', 'mirror.test', 'mixed.test', 'localhost', 'meta.test', '127.0.0.1'],
        maxConnections: 3,
        resolve: async (host) => {
          const a = names[host];
          if (!a) throw new Error('ENOTFOUND');
          return a;
        },
        dial: (address, port) => {
          dialled.push(`${address}:${port}`);
          if (address !== PUBLIC) throw new Error(`test dialer asked for ${address}`);
          return net.connect({ host: '127.0.0.1', port: upstreamPort });
        },
      },
      createLogger('silent'),
    );
    front = net.createServer((s) => gate.accept(s));
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    proxyPort = (front.address() as net.AddressInfo).port;
  });
  afterAll(() => {
    gate.close();
    front.close();
    upstream.close();
  });

  function viaProxy(target: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      http
        .get(
          { host: '127.0.0.1', port: proxyPort, path: target, headers: { host: new URL(target).host }, agent: false },
          (res) => {
            let body = '';
            res.on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        )
        .on('error', reject);
    });
  }

  function connect(authority: string): Promise<{ status: number; body: string; socket: net.Socket }> {
    return new Promise((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port: proxyPort, method: 'CONNECT', path: authority, agent: false })
        .on('connect', (res, socket, head) => {
          if (res.statusCode === 200) return resolve({ status: 200, body: '', socket });
          // Node hands over what it read past the headers as `head`: the start of the body.
          let body = head.toString();
          socket.on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body, socket }));
        })
        .on('error', reject)
        .end();
    });
  }

  it('forwards plain HTTP to an allowed public name, to the address it checked', async () => {
    const r = await viaProxy('http://pub.test/x?y=1');
    expect(r.body).toBe('hello from pub.test/x?y=1');
    expect(r.status).toBe(200);
    expect(dialled).toEqual([`${PUBLIC}:80`]);
  });

  it('tunnels CONNECT to an allowed public name', async () => {
    const { status, socket } = await connect('pub.test:443');
    expect(status).toBe(200);
    socket.write('GET /tunnel HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n');
    const reply = await new Promise<string>((r) => {
      let b = '';
      socket.on('data', (d) => (b += d)).on('end', () => r(b));
    });
    expect(reply).toContain('hello from pub.test/tunnel');
  });

  it('refuses a name not on the list with 403 naming the host and the setting, before any lookup or connection', async () => {
    const before = dialled.length;
    const r = await connect('example.com:443');
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/refused example\.com: the name is not on the egress allow list.*SANDBOX_EGRESS_ALLOW/s);
    const plain = await viaProxy('http://example.com/');
    expect(plain.status).toBe(403);
    expect(dialled.length).toBe(before);
  });

  it.each([
    ['mirror.test', '10.1.2.3', 'private'],
    ['localhost', '127.0.0.1', 'loopback'],
    ['mixed.test', '127.0.0.1', 'loopback'],
    ['meta.test', '169.254.169.254', 'link-local'],
    ['127.0.0.1', '127.0.0.1', 'loopback'],
  ])('refuses allowed %s after resolution (%s, %s)', async (host, address, range) => {
    const before = dialled.length;
    const r = await connect(`${host}:443`);
    expect(r.status).toBe(403);
    expect(r.body).toContain(`refused ${host}: it resolves to ${address}, a ${range}`);
    expect(dialled.length).toBe(before);
  });

  // With `*` any name passes the list; the system resolver reads these as 127.0.0.1 (inet_aton forms).
  it.each(['2130706433', '0x7f000001', '017700000001', '127.1', 'pub.test.0x7f'])(
    'refuses the numeric host name %s before any lookup, whatever the list says',
    async (host) => {
      const wide = new EgressGate(
        {
          allow: ['*'],
          maxConnections: 4,
          resolve: async () => {
            throw new Error(`resolver asked for ${host}`);
          },
          dial: () => {
            throw new Error('dialled');
          },
        },
        createLogger('silent'),
      );
      const server = net.createServer((s) => wide.accept(s));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const reply = await rawExchange(port, `CONNECT ${host}:80 HTTP/1.1\r\nHost: ${host}:80\r\n\r\n`);
        expect(reply).toMatch(/^HTTP\/1\.1 403/);
        expect(reply).toContain('IP address in disguise');
        expect(wide.counters().refused).toBe(1);
      } finally {
        wide.close();
        server.close();
      }
    },
  );

  it('drops a request with absurdly long headers without a lookup, and counts a malformed one as refused', async () => {
    const before = { ...gate.counters() };
    const dialledBefore = dialled.length;
    const long = await rawExchange(
      proxyPort,
      `CONNECT pub.test:443 HTTP/1.1\r\nHost: pub.test\r\nX-Pad: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    );
    expect(long).not.toMatch(/ 200 /);
    const bad = await rawExchange(proxyPort, 'CONNECT pub.test HTTP/1.1\r\nHost: pub.test\r\n\r\n');
    expect(bad).toMatch(/^HTTP\/1\.1 400/);
    const origin = await rawExchange(proxyPort, 'GET /x HTTP/1.1\r\nHost: pub.test\r\n\r\n');
    expect(origin).toMatch(/^HTTP\/1\.1 400/);
    expect(dialled.length).toBe(dialledBefore);
    expect(gate.counters().refused).toBe(before.refused + 2);
    expect(gate.counters().allowed).toBe(before.allowed);
  });

  it("sends the checked name as Host upstream, not the client's Host header", async () => {
    const reply = await rawExchange(
      proxyPort,
      'GET http://pub.test/h HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(reply).toContain('hello from pub.test/h');
  });

  it('counts bytes and refusals, and caps open connections', async () => {
    const held = await Promise.all([connect('pub.test:443'), connect('pub.test:443'), connect('pub.test:443')]);
    const over = await connect('pub.test:443');
    expect(over.status).toBe(503);
    expect(over.body).toContain('SANDBOX_EGRESS_MAX_CONNECTIONS');
    const c = gate.counters();
    expect(c.openConnections).toBe(3);
    for (const h of held) h.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const after = gate.counters();
    expect(after.openConnections).toBe(0);
    expect(after.bytesUp).toBeGreaterThan(0);
    expect(after.bytesDown).toBeGreaterThan(0);
    expect(after.refused).toBeGreaterThanOrEqual(8);
    expect(after.allowed).toBeGreaterThanOrEqual(5);
  });
});

/** Writes `request` to a proxy port as it is and returns all it answers until it closes (or 3 s pass). */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    let reply = '';
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(request));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(done, 3000);
    socket.on('data', (d) => {
      reply += d.toString();
      if (/^HTTP\/1\.1 \d+/.test(reply) && reply.includes('\r\n\r\n') && /Connection: close/i.test(reply)) {
        const length = /Content-Length: (\d+)/i.exec(reply);
        if (length && reply.length - reply.indexOf('\r\n\r\n') - 4 >= Number(length[1])) done();
      }
    });
    socket.on('error', done).on('close', done);
  });
}
