import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Duplex } from 'node:stream';
import type { EgressOwner, EgressReport, SandboxEgress } from '../../egress/service.js';
import { SandboxError } from '../../errors.js';
import type {
  BrowserEndpoint,
  ExecOptions,
  ExecResult,
  FilesApi,
  PreviewUrlBuilder,
  ProcessApi,
  Sandbox,
} from '../types.js';
import type { AgentConnection } from './agent-client.js';
import type { PortBridge } from './bridge.js';
import { SandboxChromium } from '../shared/cdp-browser.js';
import { CHROMIUM_HINT, localBrowserEndpoint, type LocalBrowserInfo } from './browser.js';

const PORT_OPEN_TIMEOUT_MS = 10_000;

/** A local sandbox: namespaces held open by its agent, which runs every command and file operation. */
export class LocalSandbox implements Sandbox {
  readonly provider = 'local' as const;
  readonly createdAt = new Date();
  private killed?: Promise<void>;
  private chromium?: SandboxChromium;

  constructor(
    readonly id: string,
    readonly workdir: string,
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly agent: AgentConnection,
    private readonly cleanup: () => Promise<void>,
    private readonly maxOutputBytes: number,
    private readonly bridge: PortBridge | undefined,
    private readonly previewUrls: () => PreviewUrlBuilder | undefined,
    private readonly browser: LocalBrowserInfo,
    private readonly egressDoor?: SandboxEgress,
  ) {}

  /** Names the session or workspace that claimed this sandbox in its egress log lines. */
  claimEgress(owner: EgressOwner): void {
    this.egressDoor?.claim(owner);
  }

  egress(): EgressReport | undefined {
    return this.egressDoor?.report();
  }

  /** How long its agent's channel has been quiet, 0 while a request is in flight (spare-launcher.ts). */
  quietForMs(): number {
    return this.agent.quietForMs();
  }

  isAlive(): boolean {
    return this.agent.alive && !this.killed;
  }

  get endReason(): string | undefined {
    return this.agent.protocolViolation;
  }

  async exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    const onEvent = opts.onOutput
      ? (stream: 'stdout' | 'stderr', data: string) => opts.onOutput!({ stream, data })
      : undefined;
    const { id, result } = this.agent.request(
      'exec',
      {
        command,
        cwd: opts.cwd,
        env: opts.env,
        timeoutMs: opts.timeoutMs,
        stdin: opts.stdin,
        maxOutputBytes: this.maxOutputBytes,
      },
      onEvent,
    );
    const onAbort = () => {
      void this.agent.call('cancel', { target: id }).catch(() => undefined);
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await result;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  readonly processes: ProcessApi = {
    spawn: (command, opts) => this.agent.call('spawn', { command, cwd: opts.cwd, env: opts.env, name: opts.name }),
    read: (processId, opts) => this.agent.call('read', { processId, ...opts }),
    write: async (processId, input, close) => {
      await this.agent.call('write', { processId, input, close });
    },
    kill: (processId, signal) => this.agent.call('kill', { processId, signal }),
    list: () => this.agent.call('list'),
    killAll: async () => {
      // Without a pid namespace the agent would see, and kill, the host's processes.
      if (this.browser.isolation === 'none')
        throw new SandboxError(
          'UNSUPPORTED',
          'with SANDBOX_ISOLATION=none the sandbox has no process namespace of its own, so "every process of the sandbox" cannot be told apart from the host\'s',
          { hint: 'stop processes one by one with shell_kill, or use an isolated sandbox' },
        );
      return (await this.agent.call('killAll')).killed;
    },
  };

  readonly files: FilesApi = {
    // Contents travel as raw bytes beside the JSON line: no base64, no JSON escaping.
    read: (path, opts) => this.agent.call('fs.read', { path, ...opts }),
    write: (path, data, opts) =>
      this.agent.call(
        'fs.write',
        { path, mode: opts?.mode },
        { field: 'data', data: typeof data === 'string' ? Buffer.from(data) : data },
      ),
    stat: (path) => this.agent.call('fs.stat', { path }),
    list: (path) => this.agent.call('fs.list', { path }),
    mkdir: async (path) => {
      await this.agent.call('fs.mkdir', { path });
    },
    remove: async (path, opts) => {
      await this.agent.call('fs.remove', { path, recursive: opts?.recursive });
    },
    rename: async (from, to, opts) => {
      await this.agent.call('fs.rename', { from, to, overwrite: opts?.overwrite });
    },
    readText: async (path, opts) => {
      const r = await this.agent.call('fs.readText', { path, ...opts });
      return { ...r, text: r.text.toString('utf8') };
    },
    tree: (path, opts) => this.agent.call('fs.tree', { path, ...opts }),
    search: (pattern, opts) => this.agent.call('fs.search', { pattern, ...opts }),
    walk: (path, opts) => this.agent.call('fs.walk', { path, ...opts }),
    symlink: async (target, path) => {
      await this.agent.call('fs.symlink', { target, path });
    },
    chmod: async (path, mode) => {
      await this.agent.call('fs.chmod', { path, mode });
    },
    append: async (path, data) => {
      await this.agent.call('fs.append', { path }, { field: 'data', data });
    },
    sha256: (paths) => this.agent.call('fs.sha256', { paths }),
  };

  /** Served by this server's preview proxy, which reaches the port through connectPort. */
  async portUrl(port: number): Promise<{ url: string }> {
    const urlFor = this.previewUrls();
    if (!urlFor || !this.bridge)
      throw new SandboxError('UNSUPPORTED', 'preview URLs are not available for this sandbox', {
        hint: this.bridge
          ? 'the server was started without its preview listener'
          : 'the state dir path is too long for a Unix socket; use a shorter SANDBOX_STATE_DIR',
      });
    return { url: await urlFor(this.id, port) };
  }

  async connectPort(port: number): Promise<Duplex> {
    if (!this.bridge)
      throw new SandboxError('UNSUPPORTED', 'this sandbox has no port bridge', {
        hint: 'the state dir path is too long for a Unix socket; use a shorter SANDBOX_STATE_DIR',
      });
    if (!this.isAlive()) throw new SandboxError('SANDBOX_GONE', 'the sandbox is gone');
    const pending = this.bridge.expect(PORT_OPEN_TIMEOUT_MS);
    try {
      await this.agent.call('port.open', { port, token: pending.token });
    } catch (e) {
      pending.cancel();
      throw e;
    }
    return pending.socket;
  }

  browserEndpoint(opts: { chromiumPath: string }): Promise<BrowserEndpoint> {
    if (!this.isAlive()) throw new SandboxError('SANDBOX_GONE', `sandbox ${this.id} has ended`);
    if (this.browser.overCdp) {
      this.chromium ??= new SandboxChromium(this, CHROMIUM_HINT);
      return this.chromium.endpoint(opts.chromiumPath);
    }
    const exists = (filePath: string) =>
      this.files.stat(filePath).then(
        () => true,
        () => false,
      );
    return localBrowserEndpoint(this.browser, opts.chromiumPath, exists);
  }

  async keepAlive(): Promise<void> {
    // Local sandboxes have no vendor-side lifetime; idle time is tracked by the session manager.
  }

  /** Kills every process of the sandbox (the pid namespace dies with its init) and removes its files. */
  kill(): Promise<void> {
    this.killed ??= (async () => {
      this.chromium?.dispose();
      this.agent.close();
      this.bridge?.close();
      this.egressDoor?.close();
      if (this.child.exitCode === null && this.child.signalCode === null) {
        const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
        this.child.kill('SIGKILL');
        await exited;
      }
      await this.cleanup();
    })();
    return this.killed;
  }
}
