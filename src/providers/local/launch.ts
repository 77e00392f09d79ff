import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IsolationMethod } from './isolation.js';
import { bwrapArgs, type SandboxSources, type sandboxPaths } from './layout.js';
import { unshareCommand } from './unshare.js';

const SCRIPTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scripts');

/** The shell scripts that start a sandbox, read once at start (they run as `bash -c` text, never by path). */
export interface LaunchScripts {
  launch: string;
  stage: string;
  unshareSetup: string;
}

export async function loadLaunchScripts(): Promise<LaunchScripts> {
  const read = (name: string) => fs.readFile(path.join(SCRIPTS_DIR, name), 'utf8');
  const [launch, stage, unshareSetup] = await Promise.all([read('launch.sh'), read('stage.sh'), read('unshare-setup.sh')]);
  return { launch, stage, unshareSetup };
}

/** Where stage.sh binds a root server's sandbox folders, inside the launcher's private mount namespace. */
export const STAGE_DIR = '/tmp/.sandbox-mcp-stage';

/** What a root server adds: the sandbox's own host uid, its process cap, and its disk image. */
export interface RootLaunch {
  uid: number;
  nproc: number;
  disk?: { image: string; mountDir: string; sizeMb: number; legacyWorkspace?: string };
}

export interface LaunchRequest {
  isolation: Exclude<IsolationMethod, 'none'>;
  paths: ReturnType<typeof sandboxPaths>;
  agentDir: string;
  runtimeDir: string;
  nodeCopy: string;
  network: 'none' | 'host';
  /** The agent's environment inside the sandbox. */
  agentEnv: Record<string, string>;
  cgroupProcs: string[];
  fileSizeKb: number;
  hostPath: string;
  root?: RootLaunch;
}

/** The argv and environment of one sandbox's launcher process (scripts/launch.sh). */
export function launchCommand(req: LaunchRequest, scripts: LaunchScripts): { args: string[]; env: Record<string, string> } {
  const { sources, env: rootEnv } = req.root ? staged(req, req.root, scripts) : { sources: hostSources(req), env: {} };
  const options = { sources, network: req.network, env: req.agentEnv };
  const [cmd, cmdArgs] = req.isolation === 'bwrap'
    ? ['bwrap', bwrapArgs(options)]
    : unshareCommand({ ...options, setupScript: scripts.unshareSetup });
  return {
    args: ['--norc', '--noprofile', '-c', scripts.launch, 'launch', cmd, ...cmdArgs],
    env: {
      PATH: req.hostPath,
      SANDBOX_CGROUP_PROCS: req.cgroupProcs.join(' '),
      SANDBOX_FSIZE_KB: String(req.fileSizeKb),
      ...rootEnv,
    },
  };
}

function hostSources(req: LaunchRequest): SandboxSources {
  const p = req.paths;
  return {
    workspace: p.workspace, home: p.home, tmp: p.tmp, run: p.run, etc: p.etc,
    agent: req.agentDir, runtime: req.runtimeDir, node: req.nodeCopy, rootfs: path.join(p.root, 'rootfs'),
  };
}

function staged(req: LaunchRequest, root: RootLaunch, scripts: LaunchScripts): { sources: SandboxSources; env: Record<string, string> } {
  const host = hostSources(req);
  if (root.disk) {
    for (const name of ['workspace', 'home', 'tmp'] as const) host[name] = path.join(root.disk.mountDir, name);
  }
  const names = ['workspace', 'home', 'tmp', 'run', 'etc', 'agent', 'runtime', 'node'] as const;
  const sources = { rootfs: `${STAGE_DIR}/rootfs` } as SandboxSources;
  for (const name of names) sources[name] = `${STAGE_DIR}/${name}`;
  const env: Record<string, string> = {
    SANDBOX_HOST_UID: String(root.uid),
    SANDBOX_NPROC: String(root.nproc),
    SANDBOX_STAGE: names.map((name) => `${name}=${host[name]}`).join('\n'),
    SANDBOX_STAGE_DIR: STAGE_DIR,
    SANDBOX_OWNED: [host.workspace, host.home].join('\n'),
    SANDBOX_STAGE_SCRIPT: scripts.stage,
  };
  if (root.disk) {
    Object.assign(env, {
      SANDBOX_DISK_IMAGE: root.disk.image,
      SANDBOX_DISK_DIR: root.disk.mountDir,
      SANDBOX_DISK_MB: String(root.disk.sizeMb),
      SANDBOX_LEGACY_WORKSPACE: root.disk.legacyWorkspace ?? '',
    });
  }
  return { sources, env };
}
