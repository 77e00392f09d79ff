import type { Config, ProviderName } from '../../config.js';
import { SandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { createProvider } from '../../providers/index.js';
import { LABEL_WORKSPACE } from '../../providers/shared/owner.js';
import type { Sandbox, SandboxProvider } from '../../providers/types.js';

export interface Endpoint {
  name: ProviderName;
  provider: SandboxProvider;
  /** Whether the workspace existed on this provider before the run. */
  existed: boolean;
  /** Its workspace sandbox; undefined when the workspace does not exist and was not to be created. */
  sandbox?: Sandbox;
}

/**
 * The two providers of a migration, each built from the one validated Config with only the provider
 * switched (so SANDBOX_DOCKER_IMAGE, E2B_API_KEY, the state dir ... apply as they do for the server),
 * and each workspace's sandbox found the way a server finds it. Everything opened is closed by close():
 * local and docker sandboxes end (their files stay), cloud ones are released for the next server.
 */
export class Endpoints {
  private readonly opened: Endpoint[] = [];

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  async open(
    name: ProviderName,
    workspace: string,
    options: { role: 'source' | 'target'; create: boolean },
  ): Promise<Endpoint> {
    const provider = await createProvider(
      {
        ...this.config,
        provider: name,
        providerReason: `sandbox-mcp migrate --${options.role === 'source' ? 'from' : 'to'}`,
        warmPool: 0,
      },
      this.log,
    );
    // What an earlier run (or server) killed mid-way left behind goes first, as a server's start does.
    await provider.reapOrphans().catch(() => []);
    const endpoint: Endpoint = { name, provider, existed: false };
    this.opened.push(endpoint);
    endpoint.existed = await provider.workspaceExists(workspace);
    if (!endpoint.existed && options.role === 'source')
      throw new SandboxError(
        'NOT_FOUND',
        `the ${name} provider has no workspace "${workspace}" (state dir ${this.config.stateDir})`,
        {
          hint: `check the name and --from; a workspace exists once a server has used it (SANDBOX_WORKSPACE=${workspace}) with the same SANDBOX_STATE_DIR`,
        },
      );
    if (!endpoint.existed && !options.create) return endpoint;
    endpoint.sandbox = await this.attach(provider, name, workspace, endpoint.existed);
    return endpoint;
  }

  private async attach(
    provider: SandboxProvider,
    name: ProviderName,
    workspace: string,
    existed: boolean,
  ): Promise<Sandbox> {
    const labels = { [LABEL_WORKSPACE]: workspace };
    const released = await provider.findReleased?.(labels);
    if (released) return released;
    // A cloud workspace is its sandbox: one a live server holds cannot be shared, and a new one would be empty.
    if (existed && provider.findReleased)
      throw new SandboxError(
        'UNAVAILABLE',
        `workspace "${workspace}" on ${name} is held by a running sandbox-mcp server`,
        {
          hint: 'stop that server (it releases the workspace at shutdown), then run migrate again',
        },
      );
    return provider.create({ labels, workspace, timeoutMs: this.config.idleTimeoutS * 1000 });
  }

  async close(): Promise<void> {
    for (const e of this.opened.splice(0)) {
      const sb = e.sandbox;
      if (sb?.isAlive()) {
        const ended = sb.release ? sb.release(this.config.workspaceTtlS * 1000) : sb.kill();
        await ended.catch((err: Error) =>
          this.log.warn({ provider: e.name, err: err.message }, 'closing a workspace sandbox failed'),
        );
      }
      await e.provider
        .shutdown()
        .catch((err: Error) => this.log.warn({ provider: e.name, err: err.message }, 'provider shutdown failed'));
    }
  }
}
