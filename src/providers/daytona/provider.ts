import { Daytona, type Sandbox as Vendor } from '@daytonaio/sdk';
import type { Config } from '../../config.js';
import { SandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import {
  daytonaNetwork,
  egressAllowList,
  type DaytonaNetworkOptions,
  type NetworkMapping,
} from '../shared/cloud-network.js';
import { LABEL_APP, LABEL_WORKSPACE, LABEL_SERVER, Ownership, reapSafely, reattachReleased } from '../shared/owner.js';
import { withRetry } from '../shared/retry.js';
import type { CreateOptions, ProviderDescription, Sandbox, SandboxProvider, SandboxSummary } from '../types.js';
import { describeDaytona } from './describe.js';
import { isTransient, translate } from './errors.js';
import type { Call } from './processes.js';
import { capToolboxAnswers } from './response-cap.js';
import { DaytonaSandbox } from './sandbox.js';

const DEFAULT_API_URL = 'https://app.daytona.io/api';

/**
 * Daytona, through its official SDK, loaded only when selected. The SDK's Socket.IO event stream is
 * turned off (state changes are polled instead): a server that may never create a sandbox should not
 * hold a socket open to Daytona from start-up, and an unreachable Daytona must not stall anything.
 * The SDK retries only connection errors; ours, bounded by DAYTONA_MAX_RETRIES, add 429 and 5xx.
 */
export class DaytonaProvider implements SandboxProvider {
  readonly name = 'daytona' as const;
  private readonly live = new Map<string, DaytonaSandbox>();
  private closing = false;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly daytona: Daytona,
    private readonly owner: Ownership,
    /** SANDBOX_NETWORK and SANDBOX_EGRESS_ALLOW as Daytona create options. */
    private readonly network: NetworkMapping<DaytonaNetworkOptions>,
  ) {}

  static async start(config: Config, log: Logger): Promise<DaytonaProvider> {
    if (!config.daytonaApiKey) {
      throw new SandboxError('AUTH', 'the daytona provider needs an API key', {
        hint: 'set DAYTONA_API_KEY (from https://app.daytona.io/dashboard/keys), or choose another provider with SANDBOX_PROVIDER',
      });
    }
    // Every setting is passed explicitly so the SDK never falls back to reading env or .env files.
    const daytona = new Daytona({
      apiKey: config.daytonaApiKey,
      apiUrl: config.daytonaApiUrl ?? DEFAULT_API_URL,
      target: config.daytonaTarget,
      useDeprecatedPolling: true,
      requestTimeoutMs: config.cloudRequestTimeoutS * 1000,
    });
    const owner = new Ownership(config);
    await owner.register();
    log.info(
      {
        apiUrl: config.daytonaApiUrl ?? DEFAULT_API_URL,
        target: config.daytonaTarget,
        snapshot: config.daytonaSnapshot ?? '(organisation default)',
        autoStopMin: config.daytonaAutoStopMin,
        maxRetries: config.daytonaMaxRetries,
      },
      'daytona provider ready',
    );
    const network = daytonaNetwork(config, await egressAllowList(config));
    for (const warning of network.warnings) log.warn({ network: config.network }, warning);
    return new DaytonaProvider(config, log, daytona, owner, network);
  }

  private call: Call = (what, callback, opts) =>
    withRetry(what, callback, {
      maxRetries: opts?.retry === false ? 0 : this.config.daytonaMaxRetries,
      translate: (e) => translate(e, `Daytona ${what}`, opts?.scope ?? 'api'),
      isTransient,
      log: this.log,
    });

  describe(): ProviderDescription {
    return describeDaytona(this.config, this.network);
  }

  async create(opts: CreateOptions): Promise<Sandbox> {
    if (this.closing) throw new SandboxError('UNAVAILABLE', 'the server is shutting down');
    const c = this.config;
    const vendor = await this.call('create sandbox', () =>
      this.daytona.create(
        {
          ...(c.daytonaSnapshot ? { snapshot: c.daytonaSnapshot } : {}),
          labels: this.owner.labels(opts.labels),
          envVars: opts.envs,
          autoStopInterval: c.daytonaAutoStopMin,
          ...this.network.options,
        },
        { timeout: Math.min(120, c.cloudRequestTimeoutS * 4) },
      ),
    );
    return this.adopt(vendor).catch(async (error) => {
      await this.daytona.delete(vendor, 30).catch(() => undefined);
      throw error;
    });
  }

  async connect(id: string): Promise<Sandbox> {
    const existing = this.live.get(id);
    if (existing?.isAlive()) return existing;
    const vendor = await this.call('connect sandbox', () => this.daytona.get(id));
    if (vendor.state !== 'started') await this.call('start sandbox', () => this.daytona.start(vendor, 60));
    return this.adopt(vendor);
  }

  private async adopt(vendor: Vendor): Promise<DaytonaSandbox> {
    capToolboxAnswers(vendor);
    const workdir =
      (await this.call('find workdir', () => vendor.getWorkDir(), { scope: 'toolbox' })) || '/home/daytona';
    const sb = new DaytonaSandbox(vendor, workdir, vendor.createdAt ? new Date(vendor.createdAt) : new Date(), {
      daytona: this.daytona,
      call: this.call,
      log: this.log.child({ sandboxId: vendor.id }),
      maxOutputBytes: this.config.maxOutputBytes,
      autoStopMs: this.config.daytonaAutoStopMin * 60_000,
      onKilled: (id) => this.live.delete(id),
    });
    this.live.set(sb.id, sb);
    return sb;
  }

  async list(labels: Record<string, string>): Promise<SandboxSummary[]> {
    return this.call('list sandboxes', async () => {
      const out: SandboxSummary[] = [];
      for await (const s of this.daytona.list({ labels: { ...labels, [LABEL_APP]: '1' } })) {
        const l = s.labels ?? {};
        if (!Object.entries(labels).every(([k, v]) => l[k] === v)) continue;
        out.push({ id: s.id, labels: l, createdAt: s.createdAt ?? '', alive: s.state === 'started' });
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
      kind: 'Daytona',
      log: this.log,
      labels,
      list: (l) => this.list(l),
      connect: (id) => this.connect(id),
    });
  }

  async reapOrphans(): Promise<string[]> {
    return reapSafely('daytona', this.log, 10_000, async () => {
      const live = await this.owner.registry.liveServers();
      const reaped: string[] = [];
      for (const s of await this.list(this.owner.reapSelector)) {
        if (!(await this.owner.isOrphan(s.labels, live))) continue;
        const vendor = await this.call('find orphan', () => this.daytona.get(s.id));
        await this.call('delete orphan', () => this.daytona.delete(vendor, 60));
        this.log.info({ sandboxId: s.id, deadServer: s.labels[LABEL_SERVER] }, 'reaped orphaned Daytona sandbox');
        reaped.push(s.id);
      }
      return reaped;
    });
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.live.values()].map((s) => s.kill().catch(() => undefined)));
    await this.daytona[Symbol.asyncDispose]().catch(() => undefined);
    await this.owner.unregister();
  }
}
