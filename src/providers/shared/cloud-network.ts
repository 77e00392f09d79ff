import net from 'node:net';
import type { Config } from '../../config.js';
import { discoverRegistries } from '../../egress/registries.js';

/**
 * SANDBOX_NETWORK and SANDBOX_EGRESS_ALLOW for the cloud providers, whose sandboxes never touch this
 * server's network: each vendor's own egress controls stand in for the proxy, as far as they reach.
 * Pure mapping (no SDK), so describe() and the tests can use it.
 */

/** The IPv4 ranges the local proxy refuses after resolution, as CIDRs for vendors that filter by address. */
export const REFUSED_IPV4_CIDRS = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '224.0.0.0/4',
];

/** What cannot be mapped on either vendor, whatever the allow list. */
const NO_PROXY_FEATURES =
  'no per-sandbox byte counters, connection cap or JSON decision log (the traffic never passes this server; sandbox_info shows no egress figures)';

/** Stands for the default allow list before it is read (describe() runs before the provider starts). */
const DEFAULT_ALLOW_PLACEHOLDER = "this host's package registries";

/** The allow list as far as it is known without reading the host's settings. */
export function knownAllowList(config: Config): string[] {
  return config.egressAllow ?? [DEFAULT_ALLOW_PLACEHOLDER];
}

/** The allow list egress mode uses: SANDBOX_EGRESS_ALLOW, or the registries this host is configured with. */
export async function egressAllowList(config: Config): Promise<string[]> {
  if (config.network !== 'egress') return [];
  return config.egressAllow ?? (await discoverRegistries(config.packageEnv)).hosts;
}

/** A vendor's create options for the network setting, how sandbox_info describes it, and what is approximated. */
export interface NetworkMapping<T> {
  options: T;
  network: string;
  warnings: string[];
}

export interface E2BNetworkOptions {
  allowInternetAccess?: boolean;
  network?: { allowOut?: string[]; denyOut: string[] };
}

/** E2B: allowInternetAccess, and network.allowOut (names, IPs, CIDRs) over a denyOut of everything. */
export function e2bNetwork(config: Config, allow: string[]): NetworkMapping<E2BNetworkOptions> {
  if (config.network === 'none')
    return { options: { allowInternetAccess: false }, network: 'none (E2B allowInternetAccess off)', warnings: [] };
  if (config.network === 'host')
    return {
      options: { allowInternetAccess: true },
      network: 'internet access (E2B default)',
      warnings: ['SANDBOX_NETWORK=host on E2B: unrestricted internet from the sandbox (this server is not reachable)'],
    };
  if (allow.includes('*'))
    return {
      options: { allowInternetAccess: true, network: { denyOut: REFUSED_IPV4_CIDRS } },
      network: 'egress: any public host (E2B network rules deny private IPv4 ranges)',
      warnings: [
        `SANDBOX_NETWORK=egress on E2B approximated: any host, with the private, loopback, link-local, CGNAT and multicast IPv4 ranges denied by E2B (IPv6 ranges are not mapped); ${NO_PROXY_FEATURES}`,
      ],
    };
  return {
    options: { allowInternetAccess: true, network: { allowOut: allow, denyOut: ['0.0.0.0/0'] } },
    network: `egress: E2B network rules allow only ${allow.join(', ') || 'nothing'}`,
    warnings: [
      `SANDBOX_NETWORK=egress on E2B approximated: E2B allows the listed names by the TLS server name or HTTP Host the sandbox sends, not by this server's check of resolved addresses; ${NO_PROXY_FEATURES}`,
    ],
  };
}

export interface DaytonaNetworkOptions {
  networkBlockAll?: boolean;
  networkAllowList?: string;
}

/** Daytona: networkBlockAll, and networkAllowList, which takes IPv4 CIDRs only (no host names). */
export function daytonaNetwork(config: Config, allow: string[]): NetworkMapping<DaytonaNetworkOptions> {
  if (config.network === 'none')
    return { options: { networkBlockAll: true }, network: 'none (Daytona networkBlockAll)', warnings: [] };
  if (config.network === 'host')
    return {
      options: { networkBlockAll: false },
      network: 'set by your Daytona organisation',
      warnings: [
        'SANDBOX_NETWORK=host on Daytona: the network your Daytona organisation allows (this server is not reachable)',
      ],
    };
  if (allow.includes('*'))
    return {
      options: { networkBlockAll: false },
      network: 'egress: any host your Daytona organisation allows',
      warnings: [
        `SANDBOX_NETWORK=egress with SANDBOX_EGRESS_ALLOW=* on Daytona approximated: the network your Daytona organisation allows; private and loopback ranges are not refused by sandbox-mcp there; ${NO_PROXY_FEATURES}`,
      ],
    };
  const addresses = allow.filter((a) => net.isIPv4(a)).map((a) => `${a}/32`);
  const names = allow.filter((a) => !net.isIPv4(a));
  const warnings = names.length
    ? [
        `SANDBOX_NETWORK=egress on Daytona cannot allow host names (${names.join(', ')}): networkAllowList takes IPv4 CIDRs only, so ${addresses.length ? 'only the listed addresses are reachable' : 'sandboxes get no network at all (networkBlockAll)'}. Use SANDBOX_EGRESS_ALLOW=* for the network your organisation allows, or list IPv4 addresses`,
      ]
    : [];
  warnings.push(`SANDBOX_NETWORK=egress on Daytona: ${NO_PROXY_FEATURES}`);
  return {
    options: addresses.length ? { networkAllowList: addresses.join(',') } : { networkBlockAll: true },
    network: addresses.length
      ? `egress: Daytona networkAllowList ${addresses.join(',')}`
      : 'none (Daytona networkBlockAll: host names cannot be allowed there)',
    warnings,
  };
}
