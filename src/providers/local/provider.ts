import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config.js';
import { SandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type {
  CreateOptions,
  PreviewUrlBuilder,
  ProviderDescription,
  Sandbox,
  SandboxProvider,
  SandboxSummary,
} from '../types.js';
import { EgressService, type EgressTotals } from '../../egress/service.js';
import { AgentConnection } from './agent-client.js';
import { writeLauncher } from './browser.js';
import { Cgroups, removeCgroup } from './cgroups.js';
import { ensureDiskTemplate, findProgram, spareImageDir } from './disk.js';
import { chromiumExecutable, executeOnlyCopy, HostUids, serverIsRoot } from './host-identity.js';
import { chooseIsolation, type IsolationMethod } from './isolation.js';
import { launcherPrefix, loadLaunchScripts, type LaunchScripts } from './launch.js';
import { AGENT_FRONT_BUILT, sandboxPaths, writeCgroupView, writeRuntime } from './layout.js';
import { ServerRegistry, type SandboxMeta } from '../shared/registry.js';
import { newSandboxId } from '../shared/sandbox-id.js';
import { LocalSandbox } from './sandbox.js';
import { SandboxSetup } from './sandbox-setup.js';
import { SpareLauncher } from './spare-launcher.js';
import { WarmPool, type WarmPoolStatus } from './warm-pool.js';

const READY_TIMEOUT_MS = 20_000;

const FRONT_NOT_BUILT =
  "the agent's native front is not built (no C compiler at build time): sandboxes start Node.js first, about 100 ms slower and 6 MiB heavier; install gcc and run npm run build";

export class LocalProvider implements SandboxProvider {
  readonly name = 'local' as const;
  private readonly live = new Map<string, LocalSandbox>();
  private readonly pool: WarmPool<LocalSandbox>;
  /** Whether sandboxes start as the agent's native front (layout.ts agentCommand). */
  private readonly front: boolean;
  private readonly setup: SandboxSetup;
  /** Launchers started ahead (isolated sandboxes only), and how many launches are under way. */
  private readonly launchers: SpareLauncher | undefined;
  private launching = 0;
  private closing = false;
  private previewUrls?: PreviewUrlBuilder;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly isolation: IsolationMethod,
    private readonly cgroups: Cgroups | undefined,
    private readonly registry: ServerRegistry,
    private readonly scripts: LaunchScripts,
    /** Execute-only copies of the agent's Node.js and of Chromium (host-identity.ts). */
    private readonly copies: { node: string; chromium?: { copy: string; target: string } },
    /** Set when the server runs as root: each sandbox then runs as a host uid of its own. */
    private readonly hostUids: HostUids | undefined,
    /** An empty image of SANDBOX_DISK_MB (disk.ts), when sandboxes get one, and the next one copied ahead. */
    private readonly diskTemplate: string | undefined,
    /** disk-spare: where spare launchers copy the next disk images (disk.ts spareImageDir). */
    private readonly imageDir: string | undefined,
    /** SANDBOX_NETWORK=egress with isolation: the proxy sandboxes reach through their run folder. */
    private readonly egress: EgressService | undefined,
  ) {
    this.front = config.agentFront === 'auto' && AGENT_FRONT_BUILT;
    this.setup = new SandboxSetup(config, log, isolation, cgroups, scripts, copies, diskTemplate, egress, this.front);
    this.launchers =
      isolation === 'none'
        ? undefined
        : new SpareLauncher({
            spawnArgs: () =>
              launcherPrefix(!!hostUids, scripts, {
                PATH: config.hostPath,
                ...(diskTemplate ? { SANDBOX_DISK_TEMPLATE: diskTemplate } : {}),
              }),
            imageDir,
            owner: registry.instanceId,
            quietForMs: () =>
              this.launching
                ? 0
                : Math.min(Infinity, ...[...this.live.values()].map((sandbox) => sandbox.quietForMs())),
            uids: hostUids && diskTemplate ? hostUids : undefined,
            log,
          });
    this.pool = new WarmPool({
      floor: config.warmPool,
      ceiling: Math.min(Math.max(config.warmPool, config.warmPoolMax), config.maxSandboxes),
      launch: () => this.launch({}).then(warmedUp),
      log,
    });
  }

  static async start(config: Config, log: Logger): Promise<LocalProvider> {
    const registry = new ServerRegistry(config.stateDir);
    await registry.register();
    const isolation = chooseIsolation(config.isolation);
    if (isolation === 'none')
      log.warn('SANDBOX_ISOLATION=none: commands run on this machine WITHOUT isolation; use only with trusted agents');
    const cgroups = isolation === 'none' ? undefined : await Cgroups.detect(config.cpus);
    await writeRuntime(path.join(config.stateDir, 'runtime'));
    await writeLauncher(path.join(config.stateDir, 'runtime'));
    await writeCgroupView(path.join(config.stateDir, 'runtime'), config.memoryMb * 1024 * 1024);
    const isolated = isolation !== 'none';
    const [scripts, nodeCopy, chromium] = await Promise.all([
      loadLaunchScripts(),
      isolated ? executeOnlyCopy(config.cacheDir, 'node', process.execPath) : process.execPath,
      isolated ? chromiumCopy(config, log) : undefined,
    ]);
    const hostUids = isolation !== 'none' && serverIsRoot() ? new HostUids(config.stateDir) : undefined;
    const mkfs =
      hostUids && config.diskMb > 0 ? findProgram('mkfs.ext4', `${config.hostPath}:/usr/sbin:/sbin`) : undefined;
    if (hostUids && config.diskMb > 0 && !mkfs)
      log.warn('the disk cap is not enforced: mkfs.ext4 is missing (Debian/Ubuntu: apt-get install e2fsprogs)');
    const diskTemplate = mkfs ? await ensureDiskTemplate(config.cacheDir, config.diskMb, mkfs) : undefined;
    // Unisolated, a sandbox shares the host network: there is nothing for a proxy to guard.
    if (config.network === 'egress' && !isolated)
      log.warn('SANDBOX_NETWORK=egress has no effect with SANDBOX_ISOLATION=none: commands use the host network');
    const egress = config.network === 'egress' && isolated ? await EgressService.start(config, log) : undefined;
    if (config.agentFront === 'auto' && !AGENT_FRONT_BUILT) log.warn(FRONT_NOT_BUILT);
    const p = new LocalProvider(
      config,
      log,
      isolation,
      cgroups,
      registry,
      scripts,
      { node: nodeCopy, chromium },
      hostUids,
      diskTemplate,
      diskTemplate ? await spareImageDir(config.stateDir, await registry.liveServers()) : undefined,
      egress,
    );
    log.info(
      {
        isolation,
        cgroups: !!cgroups,
        cpu: cgroups?.limitsCpu ?? false,
        perSandboxUid: !!hostUids,
        diskCap: p.diskCapped(),
        agentFront: p.front,
      },
      'local provider ready',
    );
    return p;
  }

  usePreviewUrls(urlFor: PreviewUrlBuilder): void {
    this.previewUrls = urlFor;
  }

  describe(): ProviderDescription {
    const c = this.config;
    const warnings: string[] = [];
    if (this.isolation === 'none') warnings.push('no isolation: commands run directly on the host');
    if (!this.cgroups)
      warnings.push('memory, CPU and process limits are not enforced (no writable cgroup); file size is');
    if (c.agentFront === 'auto' && !this.front) warnings.push(FRONT_NOT_BUILT);
    if (this.config.diskMb > 0 && !this.diskCapped())
      warnings.push(
        `the ${c.diskMb} MiB disk cap is not enforced: ${this.hostUids ? 'mkfs.ext4 is missing (apt-get install e2fsprogs)' : 'it needs a server started as root (loop-mounted images)'}`,
      );
    return {
      provider: 'local',
      isolation:
        this.isolation === 'none'
          ? 'none'
          : `${this.isolation} (user, pid, mount, ipc, uts${c.network === 'none' ? ', net' : ''} namespaces)`,
      network:
        this.isolation === 'none' || c.network === 'host'
          ? 'host network'
          : this.egress
            ? `egress: no route out; HTTP(S) through the server's proxy (${this.egress.allow.join(', ') || 'nothing allowed'}), never to loopback or private addresses`
            : 'none (sandbox loopback only)',
      limits: {
        memoryMb: this.cgroups ? c.memoryMb : 'not enforced',
        pidsMax: this.cgroups || this.hostUids ? c.pidsMax : 'not enforced',
        cpus: this.cgroups?.limitsCpu ? c.cpus : 'not enforced',
        diskMb: this.diskCapped() ? c.diskMb : 'not enforced',
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
    const pooled = opts.envs || opts.workspace ? undefined : await this.pool.take();
    let sandbox = pooled?.isAlive() ? pooled : undefined;
    // A new sandbox's record is written with its labels; a pooled one's gets them now.
    if (sandbox) await this.registry.updateLabels(sandbox.id, opts.labels);
    else sandbox = await this.launch(opts.envs ?? {}, opts.workspace, opts.labels);
    sandbox.claimEgress({ session: opts.labels.session, workspace: opts.workspace });
    return sandbox;
  }

  /** Starts the warm pool (SANDBOX_WARM_POOL, growing under bursts up to SANDBOX_WARM_POOL_MAX). */
  warmUp(): void {
    if (!this.closing) this.pool.fill();
  }

  /** How many sandboxes the warm pool holds and aims for (for /metrics). */
  poolStatus(): WarmPoolStatus {
    return this.pool.status();
  }

  /** Whether sandboxes get a disk image of SANDBOX_DISK_MB: root alone may mount one. */
  diskCapped(): boolean {
    return !!this.diskTemplate;
  }

  /** `workspace`: a named workspace's folder (kept in the state dir when the sandbox ends) as /workspace. */
  private async launch(
    envs: Record<string, string>,
    workspace?: string,
    labels: Record<string, string> = {},
  ): Promise<LocalSandbox> {
    this.launching++;
    try {
      return await this.launchSandbox(envs, labels, workspace);
    } finally {
      this.launching--;
    }
  }

  private async launchSandbox(
    envs: Record<string, string>,
    labels: Record<string, string>,
    workspace?: string,
  ): Promise<LocalSandbox> {
    const id = newSandboxId();
    const paths = sandboxPaths(this.config.stateDir, id, workspace);
    // Taken first: a launcher started now (no spare) forks the server while its folders are made.
    const launcher = this.launchers?.take();
    // A spare's image already belongs to the uid it drew; a named workspace keeps its own.
    const hostUid = workspace || launcher?.hostUid === undefined ? this.hostUids?.take(workspace) : launcher.hostUid;
    if (launcher) this.launchers?.unused(launcher, hostUid);
    const root =
      hostUid === undefined ? undefined : this.setup.rootLaunch(hostUid, paths, workspace, launcher?.spareImage);
    // A spare's image a named workspace does not use: removed once the launcher is past copying it.
    const unusedImage = launcher?.spareImage && root?.disk?.image !== launcher.spareImage ? launcher.spareImage : '';
    const ownImage = root?.disk && root.disk.image === launcher?.spareImage ? root.disk.image : '';
    let prepared, child;
    try {
      prepared = await this.setup.prepare(id, paths, hostUid, envs, root, workspace);
      const { agentEnv, cgroup, cgroupProcs } = prepared;
      child = await this.setup.startLauncher(launcher, paths, agentEnv, { cgroupProcs, memoryView: !!cgroup }, root);
    } catch (error) {
      // Its stdin closed, a launcher removes the image it copied ahead and leaves; its uid is given back.
      if (launcher) this.launchers?.abandon(launcher);
      throw error;
    }
    const { bridge, egress, workdir, cgroup, cgroupProcs } = prepared;
    const recorded = this.recordLaunch(id, child.pid ?? -1, labels);
    const log = this.log.child({ sandboxId: id });
    let sandbox: LocalSandbox | undefined;
    const agent = new AgentConnection(
      child,
      log,
      (reason) => {
        log.info({ reason }, 'sandbox ended');
        if (sandbox) void sandbox.kill();
      },
      { maxOutputBytes: this.config.maxOutputBytes },
    );
    const cleanup = async () => {
      this.live.delete(id);
      bridge?.close();
      egress?.close();
      await cgroup?.remove();
      await removeTree(paths.root);
      if (ownImage) await fs.rm(ownImage, { force: true });
      if (hostUid !== undefined) this.hostUids?.release(hostUid);
    };
    const timer = setTimeout(() => child.kill('SIGKILL'), READY_TIMEOUT_MS);
    try {
      await Promise.all([agent.ready, recorded]);
    } catch (e) {
      child.kill('SIGKILL');
      await cleanup();
      throw new SandboxError('UNAVAILABLE', (e as Error).message, {
        hint: `check that ${this.isolation} works on this machine (sandbox-mcp doctor)`,
      });
    } finally {
      clearTimeout(timer);
      if (unusedImage) void fs.rm(unusedImage, { force: true });
      // The launcher has read its parameters (the sandbox's environment among them): they go.
      void fs.rm(path.join(paths.root, 'launch.params'), { force: true });
    }
    sandbox = new LocalSandbox(
      id,
      workdir,
      child,
      agent,
      cleanup,
      this.config.maxOutputBytes,
      bridge,
      () => this.previewUrls,
      {
        runtimeDir: path.join(this.config.stateDir, 'runtime'),
        isolation: this.isolation,
        launcherPid: child.pid ?? -1,
        cgroupProcs,
        tmpDir: paths.tmp,
        homeDir: paths.home,
        sandboxId: id,
        overCdp: this.isolation === 'bwrap' && !serverIsRoot(),
      },
      egress,
    );
    this.live.set(id, sandbox);
    log.debug('sandbox started');
    return sandbox;
  }

  /** The sandbox in the state dir's registry, with what identifies its launcher for orphan reaping. */
  private async recordLaunch(id: string, launcherPid: number, labels: Record<string, string>): Promise<void> {
    const meta: SandboxMeta = {
      id,
      labels,
      createdAt: new Date().toISOString(),
      launcherPid,
      launcherStart: processStart(launcherPid),
    };
    await this.registry.recordSandbox(meta);
  }

  async workspaceExists(name: string): Promise<boolean> {
    const folder = sandboxPaths(this.config.stateDir, 'probe', name).workspace;
    // With a disk cap a workspace lives in an image beside where its folder would be.
    const found = await Promise.all(
      [folder, `${folder}.img`].map((filePath) =>
        fs.lstat(filePath).then(
          () => true,
          () => false,
        ),
      ),
    );
    return found.includes(true);
  }

  async connect(id: string): Promise<Sandbox> {
    const s = this.live.get(id);
    if (!s || !s.isAlive())
      throw new SandboxError('NOT_FOUND', `no live local sandbox ${id}`, {
        hint: 'local sandboxes end with the server that started them; a new call creates a fresh one',
      });
    return s;
  }

  async list(labels: Record<string, string>): Promise<SandboxSummary[]> {
    return (await this.registry.sandboxes())
      .filter((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v))
      .map((sandboxMeta) => ({
        id: sandboxMeta.id,
        labels: sandboxMeta.labels,
        createdAt: sandboxMeta.createdAt,
        alive: this.live.get(sandboxMeta.id)?.isAlive() ?? false,
      }));
  }

  async reapOrphans(): Promise<string[]> {
    return this.registry.reapOrphans(async (meta, owner) => {
      if (meta.launcherPid > 0 && isOurLauncher(meta)) {
        try {
          process.kill(meta.launcherPid, 'SIGKILL');
        } catch {
          /* gone */
        }
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
    await this.pool.close();
    this.launchers?.close();
    await Promise.all([...this.live.values()].map((sandbox) => sandbox.kill().catch(() => undefined)));
    await this.registry.unregister();
    await this.egress?.close();
  }

  /** The server's egress totals (for /metrics); undefined when egress is off. */
  egressTotals(): EgressTotals | undefined {
    return this.egress?.totals();
  }
}

/**
 * A pooled sandbox runs one command and one file call before any session gets it: bash's pages are in
 * memory and the Node.js agent behind the native front has started (about 100 ms), so a session's first
 * call of either kind costs what its later ones do. Pooled sandboxes are few: their Node.js is worth it.
 */
async function warmedUp(sandbox: LocalSandbox): Promise<LocalSandbox> {
  await Promise.all([
    sandbox.exec('true', { timeoutMs: 10_000 }).catch(() => undefined),
    sandbox.files.stat('.').catch(() => undefined),
  ]);
  return sandbox;
}

/** Chromium's execute-only copy, so sandbox code cannot take its CDP pipe; none if there is no Chromium. */
async function chromiumCopy(config: Config, log: Logger): Promise<{ copy: string; target: string } | undefined> {
  const target = await chromiumExecutable(config.chromiumPath);
  if (!target) return undefined;
  try {
    return { copy: await executeOnlyCopy(config.cacheDir, 'chromium', target), target };
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'no execute-only copy of Chromium: sandbox code could reach its CDP pipe');
    return undefined;
  }
}

/** Only kill a pid recorded by a dead server if it still is that sandbox's launcher (pids get reused). */
function isOurLauncher(meta: SandboxMeta): boolean {
  if (meta.launcherStart !== undefined) return processStart(meta.launcherPid) === meta.launcherStart;
  try {
    return readFileSync(`/proc/${meta.launcherPid}/cmdline`, 'utf8').includes(meta.id);
  } catch {
    return false;
  }
}

/** Field 22 of /proc/<pid>/stat, after the command name (which may hold spaces and parentheses). */
function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

async function killCgroupProcs(dir: string): Promise<void> {
  const procs = await fs.readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const pid of procs.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** rm -rf that also copes with folders the sandbox made unwritable (chmod 000). */
export async function removeTree(dir: string): Promise<void> {
  try {
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    await new Promise<void>((resolve) =>
      spawn('chmod', ['-R', 'u+rwX', dir], { stdio: 'ignore' }).on('close', () => resolve()),
    );
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
  }
}
