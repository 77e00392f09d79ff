import { createHash } from 'node:crypto';
import os from 'node:os';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import { settleWithin } from '../../settle-within.js';
import type { Sandbox, SandboxSummary } from '../types.js';
import { ServerRegistry } from './registry.js';

/** Label keys every cloud sandbox carries (E2B metadata, Daytona labels). */
export const LABEL_APP = 'sandbox-mcp';
export const LABEL_SERVER = 'sandbox-mcp-server';
export const LABEL_HOST = 'sandbox-mcp-host';
export const LABEL_STATE = 'sandbox-mcp-state';
/** A named workspace's sandbox: left for its next server to reattach, never reaped as an orphan. */
export const LABEL_WORKSPACE = 'workspace';
/**
 * A stateless handle's sandbox (its value: the handle's session id, a digest of the handle): any
 * replica may use it, so no server's death makes it an orphan; the provider's timeout reaps it.
 */
export const LABEL_HANDLE = 'sandbox-mcp-handle';

/**
 * Who owns a cloud sandbox: this server instance, on this host, with this state dir. Cloud sandboxes
 * outlive a crashed server; the next server started with the same state dir finds them by these
 * labels and reaps those whose server is no longer running. Sandboxes of other hosts or state dirs
 * (other replicas) are never touched.
 */
export class Ownership {
  readonly registry: ServerRegistry;
  readonly host = os.hostname();
  readonly stateKey: string;

  constructor(private readonly config: Config) {
    this.registry = new ServerRegistry(config.stateDir);
    this.stateKey = createHash('sha256').update(config.stateDir).digest('hex').slice(0, 12);
  }

  get instanceId(): string {
    return this.registry.instanceId;
  }

  async register(): Promise<void> {
    await this.registry.register();
  }

  async unregister(): Promise<void> {
    await this.registry.unregister();
  }

  labels(callerLabels: Record<string, string>): Record<string, string> {
    return {
      ...callerLabels,
      [LABEL_APP]: '1',
      [LABEL_SERVER]: this.instanceId,
      [LABEL_HOST]: this.host,
      [LABEL_STATE]: this.stateKey,
    };
  }

  /** Our kind of sandbox, from this host and state dir, whose server is gone, and not left on purpose. */
  async isOrphan(labels: Record<string, string>, live?: Set<string>): Promise<boolean> {
    if (labels[LABEL_WORKSPACE]) return false; // released at shutdown on purpose; the vendor's timeout ends it if unused
    if (labels[LABEL_HANDLE]) return false; // other replicas may be using it
    return this.isReleased(labels, live);
  }

  /** Our kind of sandbox, from this host and state dir, whose server is gone: free to reap or reattach. */
  async isReleased(labels: Record<string, string>, live?: Set<string>): Promise<boolean> {
    if (labels[LABEL_APP] !== '1' || labels[LABEL_HOST] !== this.host || labels[LABEL_STATE] !== this.stateKey)
      return false;
    const servers = live ?? (await this.registry.liveServers());
    return !servers.has(labels[LABEL_SERVER] ?? '');
  }

  /** The labels to list candidates by. */
  get reapSelector(): Record<string, string> {
    return { [LABEL_APP]: '1', [LABEL_HOST]: this.host, [LABEL_STATE]: this.stateKey };
  }
}

/** Runs orphan reaping without ever failing or stalling server start-up on a sick provider. */
export async function reapSafely(
  provider: string,
  log: Logger,
  timeoutMs: number,
  reap: () => Promise<string[]>,
): Promise<string[]> {
  try {
    return await settleWithin(reap(), timeoutMs, () => {
      throw new Error(`no answer within ${timeoutMs} ms`);
    });
  } catch (e) {
    log.warn(
      { provider, err: (e as Error).message },
      'could not look for orphaned sandboxes; will try at the next start',
    );
    return [];
  }
}

/**
 * Provider.findReleased for the cloud providers: the first sandbox with these labels whose server is
 * gone (released at its shutdown), reattached; one that cannot be is skipped.
 */
export async function reattachReleased(options: {
  owner: Ownership;
  kind: string;
  log: Logger;
  labels: Record<string, string>;
  list(labels: Record<string, string>): Promise<SandboxSummary[]>;
  connect(id: string): Promise<Sandbox>;
}): Promise<Sandbox | undefined> {
  for (const s of await options.list({ ...options.labels, ...options.owner.reapSelector })) {
    if (!(await options.owner.isReleased(s.labels))) continue;
    try {
      const sb = await options.connect(s.id);
      options.log.info({ sandboxId: s.id }, `reattached a ${options.kind} sandbox a previous server released`);
      return sb;
    } catch (e) {
      options.log.warn(
        { sandboxId: s.id, err: (e as Error).message },
        `could not reattach a released ${options.kind} sandbox; starting a new one`,
      );
    }
  }
  return undefined;
}
