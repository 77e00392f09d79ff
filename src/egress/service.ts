import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { EgressGate, type EgressCounters, type EgressPolicy, type EgressReason, type EgressTally } from './proxy.js';
import { discoverRegistries } from './registries.js';

/** Where the agent's relay listens inside every egress sandbox (its own loopback, not the host's). */
export const EGRESS_PROXY_PORT = 3128;
/** The server's socket in the sandbox's run folder that the relay forwards each connection to. */
export const EGRESS_SOCKET = 'egress.sock';

/** What sandbox_info shows of one sandbox's egress. */
export interface EgressReport extends EgressCounters {
  proxy: string;
  allow: string[];
  /** Set when this sandbox's way to the proxy is down (the docker relay could not start), and why. */
  problem?: string;
}

/** The server's egress since start, all sandboxes together (for /metrics: no per-sandbox labels). */
export interface EgressTotals {
  requests: Record<EgressReason, number>;
  bytesUp: number;
  bytesDown: number;
  openConnections: number;
}

/** Who a sandbox's egress log lines are about: its session or named workspace. */
export type EgressOwner = { session?: string; workspace?: string };

/** Adds every gate's decisions and bytes into server-wide totals; live gates add their open bytes. */
class ServerTally implements EgressTally {
  readonly requests: Record<EgressReason, number> = {
    allowed: 0,
    not_on_allow_list: 0,
    non_public_address: 0,
    unresolvable: 0,
    connection_cap: 0,
    malformed: 0,
  };
  private closedUp = 0;
  private closedDown = 0;
  readonly live = new Set<EgressGate>();

  decided(reason: EgressReason): void {
    this.requests[reason]++;
  }

  moved(bytesUp: number, bytesDown: number): void {
    this.closedUp += bytesUp;
    this.closedDown += bytesDown;
  }

  totals(): EgressTotals {
    let up = this.closedUp;
    let down = this.closedDown;
    let open = 0;
    for (const gate of this.live) {
      const c = gate.openTraffic();
      up += c.bytesUp;
      down += c.bytesDown;
      open += c.openConnections;
    }
    return { requests: { ...this.requests }, bytesUp: up, bytesDown: down, openConnections: open };
  }
}

/**
 * The server side of SANDBOX_NETWORK=egress: the allow list (given, or the host's own package
 * registries), and per sandbox a Unix socket in its run folder whose connections the sandbox's
 * EgressGate serves. The sandbox gets no route anywhere; this socket is its only way out.
 */
export class EgressService {
  private readonly tally = new ServerTally();
  private privateDir?: Promise<string>;

  private constructor(
    readonly allow: string[],
    private readonly npmRegistry: string | undefined,
    private readonly maxConnections: number,
    private readonly log: Logger,
    private readonly testHooks: Pick<EgressPolicy, 'resolve' | 'dial'>,
  ) {}

  static async start(
    config: Config,
    log: Logger,
    testHooks: Pick<EgressPolicy, 'resolve' | 'dial'> = {},
  ): Promise<EgressService> {
    const discovered = config.egressAllow ? undefined : await discoverRegistries(config.packageEnv);
    const allow = config.egressAllow ?? discovered?.hosts ?? [];
    log.info(
      { allow, from: config.egressAllow ? 'SANDBOX_EGRESS_ALLOW' : discovered?.sources },
      'egress proxy allow list',
    );
    if (!allow.length)
      log.warn(
        'SANDBOX_NETWORK=egress with an empty allow list: no package registry was found in npm, pip or apt settings; set SANDBOX_EGRESS_ALLOW',
      );
    return new EgressService(allow, discovered?.npmRegistry, config.egressMaxConnections, log, testHooks);
  }

  /** The proxy settings every command of an egress sandbox starts with. */
  sandboxEnv(): Record<string, string> {
    const proxy = `http://127.0.0.1:${EGRESS_PROXY_PORT}`;
    return {
      HTTP_PROXY: proxy,
      HTTPS_PROXY: proxy,
      http_proxy: proxy,
      https_proxy: proxy,
      NO_PROXY: 'localhost,127.0.0.1',
      no_proxy: 'localhost,127.0.0.1',
      npm_config_proxy: proxy,
      npm_config_https_proxy: proxy,
      PIP_PROXY: proxy,
      // npm's own version check is a registry request no command asked for, and a notice on stderr.
      npm_config_update_notifier: 'false',
      // The sandbox's npm follows the host's registry (a private mirror included), which the list allows.
      ...(this.npmRegistry ? { npm_config_registry: this.npmRegistry } : {}),
    };
  }

  /** The server's egress since start, every sandbox together. */
  totals(): EgressTotals {
    return this.tally.totals();
  }

  /**
   * Listens on `socketPath` for one sandbox; `ownerUid`: a root server's sandbox uid, which alone may
   * connect. Its log lines name the sandbox and its session or workspace.
   */
  async open(sandboxId: string, socketPath: string, opts: { ownerUid?: number; owner?: EgressOwner } = {}) {
    const log = this.log.child({ sandboxId, component: 'egress' });
    const gate = new EgressGate(
      { allow: this.allow, maxConnections: this.maxConnections, ...this.testHooks, tally: this.tally },
      log,
    );
    await fs.rm(socketPath, { force: true });
    const server = net.createServer((socket) => gate.accept(socket));
    // The gate answers 503 past its cap; far past it, Node drops connections before they cost more.
    server.maxConnections = this.maxConnections * 2;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.unref();
    // Connecting to a Unix socket takes write permission on it.
    if (opts.ownerUid !== undefined) await fs.chown(socketPath, opts.ownerUid, opts.ownerUid);
    this.tally.live.add(gate);
    const door = new SandboxEgress(gate, server, this.allow, socketPath, () => this.tally.live.delete(gate));
    if (opts.owner) door.claim(opts.owner);
    return door;
  }

  /**
   * A sandbox's proxy socket that only the server itself reaches (docker: the relay's bridges arrive
   * through the engine and the server connects them here). In a private folder, 0700, of this server.
   */
  async openPrivate(sandboxId: string, owner: EgressOwner): Promise<SandboxEgress> {
    this.privateDir ??= fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-mcp-egress-'));
    const dir = await this.privateDir;
    return this.open(sandboxId, path.join(dir, `${sandboxId}.sock`), { owner });
  }

  /** Removes the private socket folder (the sockets in it close with their sandboxes). */
  async close(): Promise<void> {
    const dir = await this.privateDir?.catch(() => undefined);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  }
}

export class SandboxEgress {
  /** Why the sandbox cannot reach this proxy, when it cannot (shown in sandbox_info). */
  problem?: string;

  constructor(
    private readonly gate: EgressGate,
    private readonly server: net.Server,
    private readonly allow: string[],
    /** Where the proxy listens for this sandbox. */
    readonly socketPath: string,
    private readonly onClose: () => void,
  ) {}

  report(): EgressReport {
    return {
      proxy: `http://127.0.0.1:${EGRESS_PROXY_PORT}`,
      allow: this.allow,
      ...this.gate.counters(),
      ...(this.problem ? { problem: this.problem } : {}),
    };
  }

  /** Names the session or workspace that holds the sandbox in its log lines. */
  claim(owner: EgressOwner): void {
    const fields = Object.fromEntries(Object.entries(owner).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >;
    this.gate.relabel(fields);
  }

  /** A connection refused at the cap before it reached the proxy (the docker relay answered it). */
  refusedOverCap(open: number): void {
    this.gate.refusedOverCap(open);
  }

  close(): void {
    this.server.close();
    this.gate.close();
    this.onClose();
  }
}
