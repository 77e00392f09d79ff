import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config.js';
import { SandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { CreateOptions, PreviewUrlBuilder, ProviderDescription, Sandbox, SandboxProvider, SandboxSummary } from '../types.js';
import { AgentConnection } from './agent-client.js';
import { BRIDGE_SOCKET, RUN_MOUNT } from './agent/protocol.js';
import { PortBridge } from './bridge.js';
import { writeLauncher } from './browser.js';
import { Cgroups, removeCgroup, type SandboxCgroup } from './cgroups.js';
import { chooseIsolation, type IsolationMethod } from './isolation.js';
import { AGENT_DIR, bwrapArgs, HOME, sandboxPaths, WORKDIR, writeEtc, writeRuntime } from './layout.js';
import { ServerRegistry, type SandboxMeta } from './registry.js';
import { LocalSandbox } from './sandbox.js';
import { unshareCommand } from './unshare.js';

const READY_TIMEOUT_MS = 20_000;
const POOL_REFILL_DELAY_MS = 1000;

/** Lowercase letters and digits (DNS-label safe), 100 bits: unguessable in preview URLs. */
export function newSandboxId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return [...randomBytes(20)].map((b) => alphabet[b & 31]).join('');
}

export class LocalProvider implements SandboxProvider {
  readonly name = 'local' as const;
  private readonly live = new Map<string, LocalSandbox>();
  private readonly pool: Promise<LocalSandbox>[] = [];
  private closing = false;
  private previewUrls?: PreviewUrlBuilder;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly isolation: IsolationMethod,
    private readonly cgroups: Cgroups | undefined,
    private readonly registry: ServerRegistry,
  ) {}

  static async start(config: Config, log: Logger): Promise<LocalProvider> {
    const registry = new ServerRegistry(config.stateDir);
    await registry.register();
    const isolation = chooseIsolation(config.isolation);
    if (isolation === 'none') log.warn('SANDBOX_ISOLATION=none: commands run on this machine WITHOUT isolation; use only with trusted agents');
    const cgroups = isolation === 'none' ? undefined : await Cgroups.detect();
    await writeRuntime(path.join(config.stateDir, 'runtime'));
    await writeLauncher(path.join(config.stateDir, 'runtime'));
    const p = new LocalProvider(config, log, isolation, cgroups, registry);
    log.info({ isolation, cgroups: !!cgroups }, 'local provider ready');
    return p;
  }

  usePreviewUrls(urlFor: PreviewUrlBuilder): void {
    this.previewUrls = urlFor;
  }

  describe(): ProviderDescription {
    const c = this.config;
    const warnings: string[] = [];
    if (this.isolation === 'none') warnings.push('no isolation: commands run directly on the host');
    if (!this.cgroups) warnings.push('memory and process limits are not enforced (no writable cgroup); file size is');
    return {
      provider: 'local',
      isolation: this.isolation === 'none' ? 'none' : `${this.isolation} (user, pid, mount, ipc, uts${c.network === 'none' ? ', net' : ''} namespaces)`,
      network: this.isolation === 'none' || c.network === 'host' ? 'host network' : 'none (sandbox loopback only)',
      limits: {
        memoryMb: this.cgroups ? c.memoryMb : 'not enforced',
        pidsMax: this.cgroups ? c.pidsMax : 'not enforced',
        fileSizeMb: c.fileSizeMb,
        maxOutputBytes: c.maxOutputBytes,
        defaultExecTimeoutS: c.execTimeoutS,
        maxExecTimeoutS: c.maxExecTimeoutS,
        idleTimeoutS: c.idleTimeoutS,
      },
      warnings,
    };
  }

  async create(opts: CreateOptions): Promise<Sandbox> {
    if (this.closing) throw new SandboxError('UNAVAILABLE', 'the server is shutting down');
    const pooled = opts.envs || opts.workspace ? undefined : this.pool.shift();
    let sandbox: LocalSandbox | undefined;
    if (pooled) sandbox = await pooled.catch(() => undefined);
    if (sandbox && !sandbox.isAlive()) sandbox = undefined;
    sandbox ??= await this.launch(opts.envs ?? {}, opts.workspace);
    await this.registry.updateLabels(sandbox.id, opts.labels);
    // Refill a little later: a starting agent competes for CPU with the caller's first commands.
    setTimeout(() => this.warmUp(), POOL_REFILL_DELAY_MS).unref();
    return sandbox;
  }

  /** Keeps `warmPool` sandboxes started ahead so a session's first call does not wait for one. */
  warmUp(): void {
    while (!this.closing && this.pool.length < this.config.warmPool) {
      const p = this.launch({});
      p.catch((e) => this.log.warn({ err: (e as Error).message }, 'warm pool sandbox failed to start'));
      this.pool.push(p);
    }
  }

  /** `workspace`: a named workspace's folder (kept in the state dir when the sandbox ends) as /workspace. */
  private async launch(envs: Record<string, string>, workspace?: string): Promise<LocalSandbox> {
    const id = newSandboxId();
    const paths = sandboxPaths(this.config.stateDir, id, workspace);
    await Promise.all([fs.mkdir(paths.root, { recursive: true }), fs.mkdir(paths.workspace, { recursive: true })]);
    await Promise.all([fs.mkdir(paths.home), fs.mkdir(paths.tmp, { mode: 0o1777 }), fs.mkdir(paths.run, { mode: 0o755 }), writeEtc(paths.etc)]);
    await fs.chmod(paths.tmp, 0o1777);
    const bridgeHostPath = path.join(paths.run, BRIDGE_SOCKET);
    const bridge = await PortBridge.listen(bridgeHostPath).catch((e) => {
      this.log.warn({ err: (e as Error).message }, 'port bridge unavailable: no preview URLs for this sandbox');
      return undefined;
    });
    if (!bridge) this.log.warn({ path: bridgeHostPath }, 'state dir path too long for the port bridge socket: no preview URLs');
    const workdir = this.isolation === 'none' ? paths.workspace : WORKDIR;
    const env: Record<string, string> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: this.isolation === 'none' ? paths.home : HOME,
      USER: 'user', LOGNAME: 'user', SHELL: '/bin/bash', LANG: 'C.UTF-8', TERM: 'dumb',
      ...envs,
    };
    const agentEnv = {
      ...env, SANDBOX_WORKDIR: workdir, SANDBOX_BASE_ENV: JSON.stringify(env),
      SANDBOX_BRIDGE: !bridge ? '' : this.isolation === 'none' ? bridgeHostPath : `${RUN_MOUNT}/${BRIDGE_SOCKET}`,
      // Only inside its own pid namespace may the agent kill "every process" (shell_kill_all).
      SANDBOX_OWN_PIDNS: this.isolation === 'none' ? '' : '1',
    };
    let cgroup: SandboxCgroup | undefined;
    if (this.cgroups) {
      cgroup = await this.cgroups.create(id, { memoryBytes: this.config.memoryMb * 1024 * 1024, pidsMax: this.config.pidsMax })
        .catch((e) => { this.log.warn({ err: (e as Error).message }, 'cgroup limits unavailable for this sandbox'); return undefined; });
    }
    const [cmd, args] = this.command(paths, agentEnv);
    // A small bash prologue joins the cgroup and sets rlimits before exec'ing the sandbox, so every
    // process in it, the agent included, inherits both.
    const prologue = 'for f in $SANDBOX_CGROUP_PROCS; do echo $$ > "$f" || exit 70; done; ulimit -f "$SANDBOX_FSIZE_KB" || exit 71; exec "$@"';
    const child = spawn('/bin/bash', ['--norc', '--noprofile', '-c', prologue, 'sandbox', cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: paths.workspace,
      env: {
        ...(this.isolation === 'none' ? agentEnv : { PATH: this.config.hostPath }),
        SANDBOX_CGROUP_PROCS: cgroup?.procsFiles.join(' ') ?? '',
        SANDBOX_FSIZE_KB: String(this.config.fileSizeMb * 1024),
      },
    });
    const meta: SandboxMeta = { id, labels: {}, createdAt: new Date().toISOString(), launcherPid: child.pid ?? -1 };
    await this.registry.recordSandbox(meta);
    const log = this.log.child({ sandboxId: id });
    let sandbox: LocalSandbox | undefined;
    const agent = new AgentConnection(child, log, (reason) => {
      log.info({ reason }, 'sandbox ended');
      if (sandbox) void sandbox.kill();
    }, { maxOutputBytes: this.config.maxOutputBytes });
    const cleanup = async () => {
      this.live.delete(id);
      bridge?.close();
      await cgroup?.remove();
      await removeTree(paths.root);
    };
    const timer = setTimeout(() => child.kill('SIGKILL'), READY_TIMEOUT_MS);
    try {
      await agent.ready;
    } catch (e) {
      await cleanup();
      throw new SandboxError('UNAVAILABLE', (e as Error).message, { hint: `check that ${this.isolation} works on this machine (sandbox-mcp doctor)` });
    } finally {
      clearTimeout(timer);
    }
    sandbox = new LocalSandbox(id, workdir, child, agent, cleanup, this.config.maxOutputBytes, bridge, () => this.previewUrls, {
      runtimeDir: path.join(this.config.stateDir, 'runtime'), isolation: this.isolation, launcherPid: child.pid ?? -1,
      cgroupProcs: cgroup?.procsFiles ?? [], tmpDir: paths.tmp, homeDir: paths.home, sandboxId: id,
    });
    this.live.set(id, sandbox);
    log.debug('sandbox started');
    return sandbox;
  }

  private command(paths: ReturnType<typeof sandboxPaths>, env: Record<string, string>): [string, string[]] {
    const runtimeDir = path.join(this.config.stateDir, 'runtime');
    if (this.isolation === 'bwrap') {
      return ['bwrap', bwrapArgs({ paths, runtimeDir, nodePath: process.execPath, network: this.config.network, env, asRoot: process.getuid?.() === 0 })];
    }
    if (this.isolation === 'unshare') return unshareCommand({ paths, runtimeDir, agentDir: AGENT_DIR, nodePath: process.execPath, network: this.config.network, env });
    // The sandbox folder as an (ignored) argument lets orphan reaping recognise the process.
    return [process.execPath, [path.join(AGENT_DIR, 'main.js'), paths.root]];
  }

  async connect(id: string): Promise<Sandbox> {
    const s = this.live.get(id);
    if (!s || !s.isAlive()) throw new SandboxError('NOT_FOUND', `no live local sandbox ${id}`, { hint: 'local sandboxes end with the server that started them; a new call creates a fresh one' });
    return s;
  }

  async list(labels: Record<string, string>): Promise<SandboxSummary[]> {
    return (await this.registry.sandboxes())
      .filter((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v))
      .map((m) => ({ id: m.id, labels: m.labels, createdAt: m.createdAt, alive: this.live.get(m.id)?.isAlive() ?? false }));
  }

  async reapOrphans(): Promise<string[]> {
    return this.registry.reapOrphans(async (meta, owner) => {
      if (meta.launcherPid > 0 && isOurLauncher(meta.launcherPid, meta.id)) {
        try { process.kill(meta.launcherPid, 'SIGKILL'); } catch { /* gone */ }
      }
      for (const dir of this.cgroups?.dirsFor(meta.id) ?? []) {
        await killCgroupProcs(dir);
        await removeCgroup(dir);
      }
      await removeTree(sandboxPaths(this.config.stateDir, meta.id).root);
      this.log.info({ sandboxId: meta.id, deadServer: owner }, 'reaped orphaned sandbox');
    });
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    const pooled = await Promise.all(this.pool.splice(0).map((p) => p.catch(() => undefined)));
    await Promise.all([...pooled, ...this.live.values()].map((s) => s?.kill().catch(() => undefined)));
    await this.registry.unregister();
  }
}

/** Only kill a pid recorded by a dead server if it still is that sandbox's launcher (pids get reused). */
function isOurLauncher(pid: number, id: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(id);
  } catch {
    return false;
  }
}

async function killCgroupProcs(dir: string): Promise<void> {
  const procs = await fs.readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const pid of procs.split('\n').filter(Boolean)) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
}

/** rm -rf that also copes with folders the sandbox made unwritable (chmod 000). */
export async function removeTree(dir: string): Promise<void> {
  try {
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    await new Promise<void>((resolve) => spawn('chmod', ['-R', 'u+rwX', dir], { stdio: 'ignore' }).on('close', () => resolve()));
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
  }
}
