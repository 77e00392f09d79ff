import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config.js';
import { EGRESS_PROXY_PORT, EGRESS_SOCKET, type EgressService } from '../../egress/service.js';
import type { Logger } from '../../logger.js';
import { BRIDGE_SOCKET, RUN_MOUNT } from '../../agent/protocol.js';
import { PortBridge } from './bridge.js';
import type { Cgroups, SandboxCgroup } from './cgroups.js';
import type { IsolationMethod } from './isolation.js';
import { launchParams, type LaunchScripts, type RootLaunch } from './launch.js';
import {
  AGENT_DIR,
  AGENT_NODE_FLAGS,
  AGENT_THREADPOOL_SIZE,
  HOME,
  WORKDIR,
  writeEtc,
  type sandboxPaths,
} from './layout.js';
import { SpareLauncher, type Launcher } from './spare-launcher.js';

type SandboxPaths = ReturnType<typeof sandboxPaths>;

/**
 * What a local sandbox needs before and as it starts, on the host: its folders (a root server's owned by
 * the sandbox's uid), the sockets that lead out of it, the agent's environment, its cgroup, and the
 * launcher's parameters. The provider (provider.ts) runs these in order and owns the sandbox after.
 */
export class SandboxSetup {
  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly isolation: IsolationMethod,
    private readonly cgroups: Cgroups | undefined,
    private readonly scripts: LaunchScripts,
    /** Execute-only copies of the agent's Node.js and of Chromium (host-identity.ts). */
    private readonly copies: { node: string; chromium?: { copy: string; target: string } },
    /** An empty image of SANDBOX_DISK_MB (disk.ts), when sandboxes get one. */
    private readonly diskTemplate: string | undefined,
    /** SANDBOX_NETWORK=egress with isolation: the proxy sandboxes reach through their run folder. */
    private readonly egress: EgressService | undefined,
    /** Whether sandboxes start as the agent's native front (layout.ts agentCommand). */
    private readonly front: boolean,
  ) {}

  /** The sandbox's folders on the host, owned by its uid when the server is root. */
  async makeFolders(paths: SandboxPaths, root: RootLaunch | undefined, workspace?: string): Promise<void> {
    await fs.mkdir(paths.root, { recursive: true });
    if (root?.disk) {
      // The writable folders live in the image (stage.sh makes them); it is mounted here.
      await fs.mkdir(root.disk.mountDir);
      if (workspace) await fs.mkdir(path.dirname(paths.workspace), { recursive: true });
    } else {
      await fs.mkdir(paths.workspace, { recursive: true });
      await Promise.all([fs.mkdir(paths.home), fs.mkdir(paths.tmp, { mode: 0o1777 })]);
      await fs.chmod(paths.tmp, 0o1777);
      if (root) await Promise.all([giveTree(paths.workspace, root.uid), fs.chown(paths.home, root.uid, root.uid)]);
    }
    // unshare builds the sandbox's root in here, as the sandbox's uid.
    if (root && this.isolation === 'unshare') {
      await fs.mkdir(path.join(paths.root, 'rootfs'));
      await fs.chown(path.join(paths.root, 'rootfs'), root.uid, root.uid);
    }
    await Promise.all([fs.mkdir(paths.run, { mode: 0o755 }), writeEtc(paths.etc)]);
  }

  /** The sockets that lead out of the sandbox: the port bridge (previews) and the egress proxy's. */
  async openChannels(id: string, paths: SandboxPaths, hostUid: number | undefined) {
    const bridgeHostPath = path.join(paths.run, BRIDGE_SOCKET);
    const bridge = await PortBridge.listen(bridgeHostPath).catch((error) => {
      this.log.warn({ err: (error as Error).message }, 'port bridge unavailable: no preview URLs for this sandbox');
      return undefined;
    });
    if (!bridge)
      this.log.warn({ path: bridgeHostPath }, 'state dir path too long for the port bridge socket: no preview URLs');
    // Connecting to a Unix socket takes write permission on it: the sandbox's uid alone gets it.
    if (bridge && hostUid !== undefined) await fs.chown(bridgeHostPath, hostUid, hostUid);
    const egress =
      this.egress &&
      (await this.egress.open(id, path.join(paths.run, EGRESS_SOCKET), { ownerUid: hostUid }).catch((error) => {
        this.log.warn(
          { err: (error as Error).message },
          'egress proxy socket unavailable: this sandbox has no network',
        );
        return undefined;
      }));
    return { bridge, bridgeHostPath, egress: egress || undefined };
  }

  /** The agent's environment: the commands' base environment, plus where the agent finds its channels. */
  agentEnv(opts: {
    envs: Record<string, string>;
    paths: SandboxPaths;
    workdir: string;
    bridge: string | undefined | false;
    egress: boolean;
  }): Record<string, string> {
    const unisolated = this.isolation === 'none';
    const env: Record<string, string> = {
      ...(opts.egress ? this.egress!.sandboxEnv() : {}),
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: unisolated ? opts.paths.home : HOME,
      USER: 'user',
      LOGNAME: 'user',
      SHELL: '/bin/bash',
      LANG: 'C.UTF-8',
      TERM: 'dumb',
      ...opts.envs,
    };
    return {
      ...env,
      SANDBOX_WORKDIR: opts.workdir,
      SANDBOX_BASE_ENV: JSON.stringify(env),
      SANDBOX_BRIDGE: !opts.bridge ? '' : unisolated ? opts.bridge : `${RUN_MOUNT}/${BRIDGE_SOCKET}`,
      // Only inside its own pid namespace may the agent kill "every process" (shell_kill_all).
      SANDBOX_OWN_PIDNS: unisolated ? '' : '1',
      UV_THREADPOOL_SIZE: AGENT_THREADPOOL_SIZE,
      ...(opts.egress
        ? { SANDBOX_EGRESS_SOCKET: `${RUN_MOUNT}/${EGRESS_SOCKET}`, SANDBOX_EGRESS_PORT: String(EGRESS_PROXY_PORT) }
        : {}),
    };
  }

  async createCgroup(id: string): Promise<SandboxCgroup | undefined> {
    if (!this.cgroups) return undefined;
    const limits = {
      memoryBytes: this.config.memoryMb * 1024 * 1024,
      pidsMax: this.config.pidsMax,
      cpus: this.config.cpus,
    };
    return this.cgroups.create(id, limits).catch((error) => {
      this.log.warn({ err: (error as Error).message }, 'cgroup limits unavailable for this sandbox');
      return undefined;
    });
  }

  /**
   * Starts the agent: launch.sh unisolated; else hands the launcher (a spare, or one started now) its
   * parameters, for bwrap or unshare (launch.ts).
   */
  async startLauncher(
    launcher: Launcher | undefined,
    paths: SandboxPaths,
    agentEnv: Record<string, string>,
    { cgroupProcs, memoryView }: { cgroupProcs: string[]; memoryView: boolean },
    root?: RootLaunch,
  ): Promise<ChildProcessWithoutNullStreams> {
    const fileSizeKb = this.config.fileSizeMb * 1024;
    if (!launcher) {
      // Unisolated, the sandbox folder as an (ignored) argument lets orphan reaping recognise the agent.
      const args = ['--norc', '--noprofile', '-c', this.scripts.launch, 'launch'];
      return spawn('/bin/bash', [...args, ...this.unisolatedAgent(), paths.root], {
        stdio: ['pipe', 'pipe', 'pipe'],
        cwd: paths.workspace,
        env: { ...agentEnv, SANDBOX_CGROUP_PROCS: cgroupProcs.join(' '), SANDBOX_FSIZE_KB: String(fileSizeKb) },
      });
    }
    const { env, command } = launchParams({
      isolation: this.isolation as Exclude<IsolationMethod, 'none'>,
      paths,
      agentDir: AGENT_DIR,
      runtimeDir: path.join(this.config.stateDir, 'runtime'),
      nodeCopy: this.copies.node,
      chromium: this.copies.chromium,
      // egress keeps the sandbox's own network namespace, with no route: only the proxy relay leads out.
      network: this.config.network === 'host' ? 'host' : 'none',
      agentEnv,
      front: this.front,
      cgroupProcs,
      memoryView,
      fileSizeKb,
      hostPath: this.config.hostPath,
      unshareSetup: this.scripts.unshareSetup,
      root,
    });
    SpareLauncher.begin(launcher, path.join(paths.root, 'launch.params'), env, command);
    return launcher.child;
  }

  /** The agent's command line without isolation: the host's Node.js and the agent's folder. */
  private unisolatedAgent(): string[] {
    const node = [process.execPath, ...AGENT_NODE_FLAGS, path.join(AGENT_DIR, 'main.cjs')];
    return this.front ? [path.join(AGENT_DIR, 'front'), ...node] : node;
  }

  /** Everything a sandbox needs before its launcher starts: folders, channels, environment, cgroup. */
  async prepare(
    id: string,
    paths: SandboxPaths,
    hostUid: number | undefined,
    envs: Record<string, string>,
    root: RootLaunch | undefined,
    workspace: string | undefined,
  ) {
    await this.makeFolders(paths, root, workspace);
    const { bridge, bridgeHostPath, egress } = await this.openChannels(id, paths, hostUid);
    const workdir = this.isolation === 'none' ? paths.workspace : WORKDIR;
    const agentEnv = this.agentEnv({ envs, paths, workdir, bridge: bridge && bridgeHostPath, egress: !!egress });
    const cgroup = await this.createCgroup(id);
    return { bridge, egress, workdir, agentEnv, cgroup, cgroupProcs: cgroup?.procsFiles ?? [] };
  }

  /** `spareImage`: an empty image a spare launcher copied ahead, which a new sandbox's disk can be. */
  rootLaunch(uid: number, paths: SandboxPaths, workspace?: string, spareImage?: string): RootLaunch {
    const mountDir = path.join(paths.root, 'disk');
    const disk = !this.diskTemplate
      ? undefined
      : workspace
        ? { image: `${paths.workspace}.img`, template: this.diskTemplate!, mountDir, legacyWorkspace: paths.workspace }
        : { image: spareImage ?? path.join(paths.root, 'disk.img'), template: this.diskTemplate!, mountDir };
    return { uid, nproc: this.config.pidsMax, disk };
  }
}

/** Makes a folder and what is in it `uid`'s (a named workspace a sandbox of another uid wrote). */
async function giveTree(dir: string, uid: number): Promise<void> {
  if ((await fs.lstat(dir)).uid === uid) return;
  await new Promise<void>((resolve, reject) => {
    spawn('chown', ['-R', '-h', `${uid}:${uid}`, dir], { stdio: 'ignore' })
      .on('error', reject)
      .on('close', (code) => (code === 0 ? resolve() : reject(new Error(`chown -R ${dir} failed (${code})`))));
  });
}
