import type { Logger } from '../logger.js';
import type { CreateOptions, ProviderDescription, Sandbox, SandboxProvider, SandboxSummary } from './types.js';
import type { ProviderName } from '../config.js';

/**
 * A cloud provider whose vendor SDK loads in the background: the server answers `initialize` without
 * waiting for a heavy import, and the first tool call waits for it only if it is not done yet.
 * Orphan reaping runs in the background too, so an unreachable vendor never delays start-up; what
 * it reaps is logged.
 */
export class LazyProvider implements SandboxProvider {
  private loading?: Promise<SandboxProvider>;
  private readonly reapAfterLoad: (() => void)[] = [];

  constructor(
    readonly name: ProviderName,
    private readonly description: () => ProviderDescription,
    private readonly loader: () => Promise<SandboxProvider>,
    private readonly log: Logger,
  ) {}

  /** Starts loading the SDK (once); the first call that needs the provider waits for it. */
  private get loaded(): Promise<SandboxProvider> {
    if (!this.loading) {
      this.loading = this.loader();
      this.loading.then(
        () => {
          for (const f of this.reapAfterLoad.splice(0)) f();
        },
        (loadError: Error) => {
          this.log.error(
            { provider: this.name, err: loadError.message },
            'provider failed to start; tool calls will report it',
          );
        },
      );
    }
    return this.loading;
  }

  /** Called once the server is serving: the SDK loads while the client is still getting started. */
  warmUp(): void {
    void this.loaded.catch(() => undefined);
  }

  /** The started provider (tests and doctor use it to wait for the load). */
  ready(): Promise<SandboxProvider> {
    return this.loaded;
  }

  describe(): ProviderDescription {
    return this.description();
  }

  async create(opts: CreateOptions): Promise<Sandbox> {
    return (await this.loaded).create(opts);
  }

  async connect(id: string): Promise<Sandbox> {
    return (await this.loaded).connect(id);
  }

  async findReleased(labels: Record<string, string>): Promise<Sandbox | undefined> {
    return (await this.loaded).findReleased?.(labels);
  }

  async workspaceExists(name: string): Promise<boolean> {
    return (await this.loaded).workspaceExists(name);
  }

  async list(labels: Record<string, string>): Promise<SandboxSummary[]> {
    return (await this.loaded).list(labels);
  }

  /** Runs once the SDK has loaded (it does not trigger the load: start-up stays light). */
  async reapOrphans(): Promise<string[]> {
    this.reapAfterLoad.push(() => {
      void this.loaded
        .then((p) => p.reapOrphans())
        .then(
          (ids) => {
            if (ids.length)
              this.log.info(
                { provider: this.name, count: ids.length, ids },
                'reaped sandboxes left by a server that died',
              );
          },
          () => undefined,
        );
    });
    return [];
  }

  async shutdown(): Promise<void> {
    if (!this.loading) return;
    const p = await this.loading.catch(() => undefined);
    await p?.shutdown();
  }
}
