import { Sandbox as Vendor, type ConnectionOpts } from 'e2b';
import type { Config } from '../../config.js';
import { SandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { e2bNetwork, egressAllowList, type E2BNetworkOptions, type NetworkMapping } from '../shared/cloud-network.js';
import { LABEL_APP, LABEL_WORKSPACE, Ownership, reapSafely, reattachReleased } from '../shared/owner.js';
import { watchResponses } from '../shared/response-cap.js';
import { withRetry } from '../shared/retry.js';
import type { CreateOptions, ProviderDescription, Sandbox, SandboxProvider, SandboxSummary } from '../types.js';
import { describeE2B } from './describe.js';
import { isTransient, translate } from './errors.js';
import { capEnvdResponses } from './response-cap.js';
import { E2BSandbox } from './sandbox.js';

/**
 * E2B: Firecracker microVMs in E2B's cloud, through the official SDK. Loaded only when selected.
 * The SDK's own retries are off (it retries 429 only, and never 503 on create): ours, bounded by
 * E2B_MAX_RETRIES, cover both with backoff and jitter.
 */
export class E2BProvider implements SandboxProvider {
  readonly name = 'e2b' as const;
  private readonly live = new Map<string, E2BSandbox>();
  private closing = false;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly owner: Ownership,
    /** SANDBOX_NETWORK and SANDBOX_EGRESS_ALLOW as E2B create options. */
    private readonly network: NetworkMapping<E2BNetworkOptions>,
  ) {}

  static async start(config: Config, log: Logger): Promise<E2BProvider> {
    if (!config.e2bApiKey) {
      throw new SandboxError('AUTH', 'the e2b provider needs an API key', {
        hint: 'set E2B_API_KEY (from https://e2b.dev/dashboard?tab=keys), or choose another provider with SANDBOX_PROVIDER',
      });
    }
    await capEnvdResponses();
    const owner = new Ownership(config);
    await owner.register();
    log.info(
      {
        template: config.e2bTemplate,
        domain: config.e2bDomain ?? 'e2b.app',
        apiUrl: config.e2bApiUrl,
        timeoutS: config.e2bTimeoutS,
        maxRetries: config.e2bMaxRetries,
      },
      'e2b provider ready',
    );
    const network = e2bNetwork(config, await egressAllowList(config));
    for (const warning of network.warnings) log.warn({ network: config.network }, warning);
    return new E2BProvider(config, log, owner, network);
  }

  /** Connection options for every SDK call; nothing is read from the environment by the SDK. */
  private conn(requestTimeoutMs = this.config.cloudRequestTimeoutS * 1000): ConnectionOpts & { retries: number } {
    return {
      apiKey: this.config.e2bApiKey,
      domain: this.config.e2bDomain,
      apiUrl: this.config.e2bApiUrl,
      sandboxUrl: this.config.e2bSandboxUrl,
      requestTimeoutMs,
      retries: 0,
      debug: false,
    };
  }

  private call = <T>(what: string, callback: () => Promise<T>, opts?: { retry?: boolean }): Promise<T> =>
    withRetry(what, () => watchResponses(callback), {
      maxRetries: opts?.retry === false ? 0 : this.config.e2bMaxRetries,
      translate: (e) => translate(e, `E2B ${what}`),
      isTransient,
      log: this.log,
    });

  describe(): ProviderDescription {
    return describeE2B(this.config, this.network);
  }

  async create(opts: CreateOptions): Promise<Sandbox> {
    if (this.closing) throw new SandboxError('UNAVAILABLE', 'the server is shutting down');
    const lifetimeMs = this.config.e2bTimeoutS * 1000;
    // timeoutMs is always passed: without it the SDK sends none and E2B ends the sandbox within seconds.
    const vendor = await this.call('create sandbox', () =>
      Vendor.create(this.config.e2bTemplate, {
        ...this.conn(),
        timeoutMs: lifetimeMs,
        metadata: this.owner.labels(opts.labels),
        envs: opts.envs,
        ...this.network.options,
      }),
    );
    return this.adopt(vendor, new Date()).catch(async (error) => {
      await vendor.kill().catch(() => undefined);
      throw error;
    });
  }

  async connect(id: string): Promise<Sandbox> {
    const existing = this.live.get(id);
    if (existing?.isAlive()) return existing;
    const vendor = await this.call('connect sandbox', () =>
      Vendor.connect(id, { ...this.conn(), timeoutMs: this.config.e2bTimeoutS * 1000 }),
    );
    return this.adopt(vendor, new Date());
  }

  /** The workdir is the sandbox user's home, asked once: templates may run as another user. */
  private async adopt(vendor: Vendor, createdAt: Date): Promise<E2BSandbox> {
    const r = await this.call('find workdir', () => vendor.commands.run('printf %s "$HOME"', { timeoutMs: 30_000 }), {
      retry: false,
    });
    const workdir = r.stdout.trim() || '/home/user';
    const sb = new E2BSandbox(vendor, workdir, createdAt, {
      call: this.call,
      log: this.log.child({ sandboxId: vendor.sandboxId }),
      maxOutputBytes: this.config.maxOutputBytes,
      lifetimeMs: this.config.e2bTimeoutS * 1000,
      onKilled: (id) => this.live.delete(id),
    });
    this.live.set(sb.id, sb);
    return sb;
  }

  async list(labels: Record<string, string>): Promise<SandboxSummary[]> {
    return this.call('list sandboxes', async () => {
      const pages = Vendor.list({ ...this.conn(), query: { metadata: { ...labels, [LABEL_APP]: '1' } } });
      const out: SandboxSummary[] = [];
      while (pages.hasNext) {
        for (const s of await pages.nextItems()) {
          // Filter again: a server that ignored the query must not make us touch foreign sandboxes.
          if (!Object.entries(labels).every(([k, v]) => s.metadata[k] === v)) continue;
          out.push({
            id: s.sandboxId,
            labels: s.metadata,
            createdAt: s.startedAt.toISOString(),
            alive: s.state === 'running',
          });
        }
      }
      return out;
    });
  }

  async workspaceExists(name: string): Promise<boolean> {
    return (await this.list({ [LABEL_WORKSPACE]: name, ...this.owner.reapSelector })).length > 0;
  }

  findReleased(labels: Record<string, string>): Promise<Sandbox | undefined> {
    return reattachReleased({
      owner: this.owner,
      kind: 'E2B',
      log: this.log,
      labels,
      list: (l) => this.list(l),
      connect: (id) => this.connect(id),
    });
  }

  async reapOrphans(): Promise<string[]> {
    return reapSafely('e2b', this.log, 10_000, async () => {
      const live = await this.owner.registry.liveServers();
      const reaped: string[] = [];
      for (const s of await this.list(this.owner.reapSelector)) {
        if (!(await this.owner.isOrphan(s.labels, live))) continue;
        await this.call('kill orphan', () => Vendor.kill(s.id, this.conn()));
        this.log.info({ sandboxId: s.id, deadServer: s.labels['sandbox-mcp-server'] }, 'reaped orphaned E2B sandbox');
        reaped.push(s.id);
      }
      return reaped;
    });
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.live.values()].map((s) => s.kill().catch(() => undefined)));
    await this.owner.unregister();
  }
}
