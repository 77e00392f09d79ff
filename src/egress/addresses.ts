import net from 'node:net';

/**
 * The address ranges the egress proxy never connects to, whatever name led there: the host's own
 * services, the networks behind it and the cloud metadata endpoint. Exactly these: documentation and
 * other "reserved" ranges stay reachable (a mirror may well live in one).
 */
const REFUSED_RANGES: { range: string; v4?: [string, number]; v6?: [string, number] }[] = [
  { range: 'unspecified', v4: ['0.0.0.0', 8] },
  { range: 'loopback', v4: ['127.0.0.0', 8] },
  { range: 'private (RFC 1918)', v4: ['10.0.0.0', 8] },
  { range: 'private (RFC 1918)', v4: ['172.16.0.0', 12] },
  { range: 'private (RFC 1918)', v4: ['192.168.0.0', 16] },
  { range: 'link-local (cloud metadata)', v4: ['169.254.0.0', 16] },
  { range: 'shared CGNAT', v4: ['100.64.0.0', 10] },
  { range: 'multicast', v4: ['224.0.0.0', 4] },
  { range: 'unspecified', v6: ['::', 128] },
  { range: 'loopback', v6: ['::1', 128] },
  { range: 'private (unique local)', v6: ['fc00::', 7] },
  { range: 'link-local (cloud metadata)', v6: ['fe80::', 10] },
  { range: 'multicast', v6: ['ff00::', 8] },
];

const lists = REFUSED_RANGES.map(({ range, v4, v6 }) => {
  const list = new net.BlockList();
  if (v4) list.addSubnet(v4[0], v4[1], 'ipv4');
  if (v6) list.addSubnet(v6[0], v6[1], 'ipv6');
  return { range, list };
});

export type AddressVerdict = { public: true } | { public: false; range: string };

/** Whether the proxy may connect to `address` (an IP literal), and if not, which range it is in. */
export function classifyAddress(address: string): AddressVerdict {
  const family = net.isIP(address);
  if (family === 0) return { public: false, range: 'not an IP address' };
  if (family === 6) {
    const groups = expandIpv6(address);
    if (!groups) return { public: false, range: 'not an IP address' };
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (the deprecated compatible form) reach IPv4 address a.b.c.d;
    // 64:ff9b::a.b.c.d (NAT64's well-known prefix) reaches it too, where the network has a NAT64 gateway.
    const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
    const embedsIpv4 =
      nat64 ||
      (groups.slice(0, 5).every((g) => g === 0) &&
        (groups[5] === 0xffff || (groups[5] === 0 && (groups[6] !== 0 || groups[7]! > 1))));
    if (embedsIpv4) {
      const v4 = `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
      const inner = classifyAddress(v4);
      return inner.public ? inner : { public: false, range: `${inner.range}, IPv4-mapped` };
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const hit = lists.find(({ list }) => list.check(address, type));
  return hit ? { public: false, range: hit.range } : { public: true };
}

/** The eight 16-bit groups of an IPv6 literal (a trailing dotted IPv4 part included), or undefined. */
function expandIpv6(address: string): number[] | undefined {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const o = dotted[1]!.split('.').map(Number);
    text =
      text.slice(0, -dotted[1]!.length) +
      `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}
