import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IsolationMethod } from './isolation.js';
import { bwrapArgs, CGROUP_VIEW, type SandboxSources, type sandboxPaths } from './layout.js';
import { unshareCommand } from './unshare.js';

const SCRIPTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scripts');

/**
 * The shell scripts that start a sandbox, read once at start (they run as `bash -c` text, never by path).
 * launch.sh and stage.sh begin with params.sh, which lets a launcher started ahead take its parameters.
 */
export interface LaunchScripts {
  launch: string;
  stage: string;
  unshareSetup: string;
}

export async function loadLaunchScripts(): Promise<LaunchScripts> {
  const read = (name: string) => fs.readFile(path.join(SCRIPTS_DIR, name), 'utf8');
  const [params, launch, stage, unshareSetup] = await Promise.all([
    read('params.sh'),
    read('launch.sh'),
    read('stage.sh'),
    read('unshare-setup.sh'),
  ]);
  return { launch: params + launch, stage: params + stage, unshareSetup };
}

/** The flag params.sh waits for: the launcher then reads its parameters from stdin (spare-launcher.ts). */
export const PARAMS_ON_STDIN = '--params-on-stdin';

/**
 * The part of a launcher's command line no sandbox changes: what a spare launcher starts as. A root
 * server's launcher runs stage.sh in a private mount namespace of its own; any other, launch.sh.
 */
export function launcherPrefix(
  root: boolean,
  scripts: LaunchScripts,
  env: Record<string, string>,
): { file: string; args: string[]; env: Record<string, string> } {
  const bash = ['/bin/bash', '--norc', '--noprofile', '-c'];
  return root
    ? {
        file: 'unshare',
        args: ['--mount', '--propagation', 'private', '--', ...bash, scripts.stage, 'stage', PARAMS_ON_STDIN],
        env,
      }
    : { file: bash[0]!, args: [...bash.slice(1), scripts.launch, 'launch', PARAMS_ON_STDIN], env };
}

/** Where stage.sh binds a root server's sandbox folders, inside the launcher's private mount namespace. */
export const STAGE_DIR = '/tmp/.sandbox-mcp-stage';

/** What a root server adds: the sandbox's own host uid, its process cap, and its disk image. */
export interface RootLaunch {
  uid: number;
  nproc: number;
  disk?: {
    image: string;
    /** An empty image of the cap's size; a new one is a sparse copy of it. */
    template: string;
    /** Where the image is mounted: inside the sandbox's own folder. */
    mountDir: string;
    legacyWorkspace?: string;
  };
}

export interface LaunchRequest {
  isolation: Exclude<IsolationMethod, 'none'>;
  paths: ReturnType<typeof sandboxPaths>;
  agentDir: string;
  runtimeDir: string;
  nodeCopy: string;
  /** Chromium's execute-only copy and the executable it stands in for (host-identity.ts). */
  chromium?: { copy: string; target: string };
  network: 'none' | 'host';
  /** The agent's environment inside the sandbox. */
  agentEnv: Record<string, string>;
  /** Whether the agent starts as its native front. */
  front: boolean;
  cgroupProcs: string[];
  /** Whether a cgroup caps the sandbox's memory: it then sees the runtime folder's cgroup view. */
  memoryView: boolean;
  fileSizeKb: number;
  hostPath: string;
  /** scripts/unshare-setup.sh, for the unshare isolation. */
  unshareSetup: string;
  root?: RootLaunch;
}

/**
 * What one sandbox's launcher is handed (params.sh): the environment of scripts/launch.sh, or for a root
 * server of scripts/stage.sh, and the isolation command they end with.
 */
export function launchParams(req: LaunchRequest): { env: Record<string, string>; command: string[] } {
  const { sources, env: rootEnv } = req.root ? staged(req, req.root) : { sources: hostSources(req), env: {} };
  const options = { sources, network: req.network, env: req.agentEnv, front: req.front };
  const [cmd, cmdArgs] =
    req.isolation === 'bwrap'
      ? ['bwrap', bwrapArgs(options)]
      : unshareCommand({ ...options, setupScript: req.unshareSetup });
  const env = {
    PATH: req.hostPath,
    SANDBOX_CGROUP_PROCS: req.cgroupProcs.join(' '),
    SANDBOX_FSIZE_KB: String(req.fileSizeKb),
    ...rootEnv,
  };
  return { env, command: [cmd, ...cmdArgs] };
}

function hostSources(req: LaunchRequest): SandboxSources {
  const p = req.paths;
  return {
    workspace: p.workspace,
    home: p.home,
    tmp: p.tmp,
    run: p.run,
    etc: p.etc,
    agent: req.agentDir,
    runtime: req.runtimeDir,
    node: req.nodeCopy,
    rootfs: path.join(p.root, 'rootfs'),
    chromium: req.chromium,
    cgroupView: req.memoryView ? path.join(req.runtimeDir, CGROUP_VIEW) : undefined,
  };
}

function staged(req: LaunchRequest, root: RootLaunch): { sources: SandboxSources; env: Record<string, string> } {
  const p = req.paths;
  // The sandbox's own folder holds home, tmp, run, etc (and the disk image's mount): one bind for all.
  const stage: Record<string, string> = {
    root: p.root,
    agent: req.agentDir,
    runtime: req.runtimeDir,
    node: path.dirname(req.nodeCopy),
  };
  if (req.chromium) stage.chromium = path.dirname(req.chromium.copy);
  const inRoot = (hostPath: string) => `${STAGE_DIR}/root/${path.relative(p.root, hostPath)}`;
  const writable = root.disk ? root.disk.mountDir : p.root;
  let workspace = inRoot(path.join(writable, 'workspace'));
  if (!root.disk && path.relative(p.root, p.workspace).startsWith('..')) {
    stage.workspace = p.workspace; // a named workspace's folder lives beside the sandboxes
    workspace = `${STAGE_DIR}/workspace`;
  }
  for (const hostPath of Object.values(stage)) {
    if (hostPath.includes('\n')) throw new Error(`a sandbox path holds a line break: ${JSON.stringify(hostPath)}`);
  }
  const sources: SandboxSources = {
    workspace,
    home: inRoot(path.join(writable, 'home')),
    tmp: inRoot(path.join(writable, 'tmp')),
    run: inRoot(p.run),
    etc: inRoot(p.etc),
    agent: `${STAGE_DIR}/agent`,
    runtime: `${STAGE_DIR}/runtime`,
    node: `${STAGE_DIR}/node/${path.basename(req.nodeCopy)}`,
    rootfs: inRoot(path.join(p.root, 'rootfs')),
    cgroupView: req.memoryView ? `${STAGE_DIR}/runtime/${CGROUP_VIEW}` : undefined,
    chromium: req.chromium && {
      copy: `${STAGE_DIR}/chromium/${path.basename(req.chromium.copy)}`,
      target: req.chromium.target,
    },
  };
  const env: Record<string, string> = {
    SANDBOX_HOST_UID: String(root.uid),
    SANDBOX_NPROC: String(root.nproc),
    SANDBOX_STAGE: Object.entries(stage)
      .map(([name, hostPath]) => `${name}=${hostPath}`)
      .join('\n'),
    SANDBOX_STAGE_DIR: STAGE_DIR,
    SANDBOX_STAGE_FSTAB: path.join(p.root, 'stage.fstab'),
  };
  if (root.disk) {
    Object.assign(env, {
      SANDBOX_DISK_IMAGE: root.disk.image,
      SANDBOX_DISK_DIR: root.disk.mountDir,
      SANDBOX_DISK_TEMPLATE: root.disk.template,
      SANDBOX_LEGACY_WORKSPACE: root.disk.legacyWorkspace ?? '',
    });
  }
  return { sources, env };
}
