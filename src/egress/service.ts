import fs from 'node:fs/promises';
import net from 'node:net';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { EgressGate, type EgressCounters, type EgressPolicy } from './proxy.js';
import { discoverRegistries } from './registries.js';

/** Where the agent's relay listens inside every egress sandbox (its own loopback, not the host's). */
export const EGRESS_PROXY_PORT = 3128;
/** The server's socket in the sandbox's run folder that the relay forwards each connection to. */
export const EGRESS_SOCKET = 'egress.sock';

/** What sandbox_info shows of one sandbox's egress. */
export interface EgressReport extends EgressCounters {
  proxy: string;
  allow: string[];
}

/**
 * The server side of SANDBOX_NETWORK=egress: the allow list (given, or the host's own package
 * registries), and per sandbox a Unix socket in its run folder whose connections the sandbox's
 * EgressGate serves. The sandbox gets no route anywhere; this socket is its only way out.
 */
export class EgressService {
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
      // The sandbox's npm follows the host's registry (a private mirror included), which the list allows.
      ...(this.npmRegistry ? { npm_config_registry: this.npmRegistry } : {}),
    };
  }

  /** Listens on `socketPath` for one sandbox; `ownerUid`: a root server's sandbox uid, which alone may connect. */
  async open(sandboxId: string, socketPath: string, ownerUid?: number): Promise<SandboxEgress> {
    const log = this.log.child({ sandboxId, component: 'egress' });
    const gate = new EgressGate({ allow: this.allow, maxConnections: this.maxConnections, ...this.testHooks }, log);
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
    if (ownerUid !== undefined) await fs.chown(socketPath, ownerUid, ownerUid);
    return new SandboxEgress(gate, server, this.allow);
  }
}

export class SandboxEgress {
  constructor(
    private readonly gate: EgressGate,
    private readonly server: net.Server,
    private readonly allow: string[],
  ) {}

  report(): EgressReport {
    return { proxy: `http://127.0.0.1:${EGRESS_PROXY_PORT}`, allow: this.allow, ...this.gate.counters() };
  }

  close(): void {
    this.server.close();
    this.gate.close();
  }
}
