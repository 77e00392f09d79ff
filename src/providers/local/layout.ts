import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_MOUNT, RUN_MOUNT } from '../../agent/protocol.js';

/** The agent's compiled folder on the host, mounted read-only into every sandbox. */
export const AGENT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'agent');

/**
 * Node.js options of the agent, an idle process most of its life: one V8 worker thread instead of one per
 * core (V8 flags proper would cost it Node's code cache: +15 ms and +1.4 MB). With UV_THREADPOOL_SIZE=2
 * (agentEnv) an idle agent keeps 6 threads rather than 11, each a kernel stack, a stack and a malloc arena.
 */
export const AGENT_NODE_FLAGS = ['--v8-pool-size=1'];

/** The agent's native front (src/agent-front), when the build found a C compiler to make it. */
export const AGENT_FRONT_BUILT = existsSync(path.join(AGENT_DIR, 'front'));

/**
 * The agent's command line under `mount` (where its folder and Node.js are): the front, which runs
 * commands itself and starts Node.js on demand, else Node.js from the start.
 */
export function agentCommand(mount: string, front: boolean): string[] {
  const node = [`${mount}/node`, ...AGENT_NODE_FLAGS, `${mount}/agent/main.cjs`];
  return front ? [`${mount}/agent/front`, ...node] : node;
}
export const AGENT_THREADPOOL_SIZE = '2';

export const SANDBOX_UID = 1000;
export const WORKDIR = '/workspace';
export const HOME = '/home/user';

/**
 * Host folders of one sandbox, all under the state dir and removed with it, but for a named workspace's
 * folder (`workspaces/<name>`), which outlives its sandboxes.
 */
export function sandboxPaths(stateDir: string, id: string, workspace?: string) {
  const root = path.join(stateDir, 'sandboxes', id);
  const ws = workspace ? path.join(stateDir, 'workspaces', workspace) : path.join(root, 'workspace');
  return {
    root,
    meta: path.join(root, 'meta.json'),
    workspace: ws,
    home: path.join(root, 'home'),
    tmp: path.join(root, 'tmp'),
    etc: path.join(root, 'etc'),
    run: path.join(root, 'run'),
  };
}

/** Only what programs need of /etc; never the host's passwd, shadow or anything with secrets. */
export const HOST_ETC = [
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'alternatives',
  'ssl',
  'ca-certificates',
  'ca-certificates.conf',
  'localtime',
  'fonts',
  'mime.types',
  'bash.bashrc',
  'inputrc',
  'terminfo',
  'gai.conf',
  'protocols',
  'services',
  'chromium',
  'chromium.d',
];

export async function writeEtc(etcDir: string): Promise<void> {
  await fs.mkdir(etcDir, { recursive: true });
  const resolv = existsSync('/etc/resolv.conf') ? readFileSync('/etc/resolv.conf', 'utf8') : '';
  await Promise.all([
    fs.writeFile(
      path.join(etcDir, 'passwd'),
      `root:x:0:0:root:/root:/bin/bash\nuser:x:${SANDBOX_UID}:${SANDBOX_UID}:sandbox user:${HOME}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    ),
    fs.writeFile(path.join(etcDir, 'group'), `root:x:0:\nuser:x:${SANDBOX_UID}:\nnogroup:x:65534:\n`),
    fs.writeFile(
      path.join(etcDir, 'hosts'),
      '127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n',
    ),
    fs.writeFile(path.join(etcDir, 'hostname'), 'sandbox\n'),
    fs.writeFile(path.join(etcDir, 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n'),
    fs.writeFile(path.join(etcDir, 'resolv.conf'), resolv),
  ]);
}

/** The folder writeCgroupView fills, in the runtime folder. */
export const CGROUP_VIEW = 'cgroup';

/**
 * The sandboxes' memory limit as cgroup v2 and v1 files (memory.max; memory/memory.limit_in_bytes), one
 * folder written once at start and bound read-only at /sys/fs/cgroup in every sandbox a cgroup caps (no
 * cgroup file system is mounted there). Runtimes size themselves by it: Node.js sizes its heap by it (1 GB
 * in a 2 GB sandbox) where it took the host's memory before, and a heap limit under 2 GB spares each agent
 * the 1.6 MB private copy of V8's builtins it makes when it cannot map its execute-only binary.
 */
export async function writeCgroupView(runtimeDir: string, memoryBytes: number): Promise<void> {
  const dir = path.join(runtimeDir, CGROUP_VIEW);
  await fs.mkdir(path.join(dir, 'memory'), { recursive: true });
  const contents: Record<string, string> = {
    'memory.max': `${memoryBytes}\n`,
    'memory.high': 'max\n',
    'memory/memory.limit_in_bytes': `${memoryBytes}\n`,
    'memory/memory.soft_limit_in_bytes': `${memoryBytes}\n`,
  };
  await Promise.all(Object.entries(contents).map(([name, text]) => fs.writeFile(path.join(dir, name), text)));
}

/**
 * Where the isolation command finds a sandbox's folders and files: their host paths, or, when the server
 * runs as root, the staged binds stage.sh makes of them (launch.ts).
 */
export interface SandboxSources {
  workspace: string;
  home: string;
  tmp: string;
  run: string;
  /** The sandbox's own passwd, group, hosts, ... (writeEtc). */
  etc: string;
  agent: string;
  /** Holds the agent's package.json. */
  runtime: string;
  /** The execute-only Node.js the agent runs on (host-identity.ts). */
  node: string;
  /** An empty folder the unshare setup builds the root in. */
  rootfs: string;
  /** Chromium's execute-only copy, put over its executable (`target`, under /usr) inside the sandbox. */
  chromium?: { copy: string; target: string };
  /** writeCgroupView's folder, when a cgroup caps the sandbox's memory. */
  cgroupView?: string;
}

export interface IsolationOptions {
  sources: SandboxSources;
  network: 'none' | 'host';
  env: Record<string, string>;
  /** Whether the agent starts as its native front (agentCommand). */
  front: boolean;
}

/**
 * bwrap argv: fresh namespaces, a read-only root built from the host's /usr, writable workspace, tmp and
 * home. bwrap always runs unprivileged here (a root server drops to the sandbox's uid first), and
 * --disable-userns keeps the sandbox from making user namespaces of its own, so it can never mount a
 * proc or cgroup file system nor gain capabilities anywhere.
 */
export function bwrapArgs(isolationOptions: IsolationOptions): string[] {
  const src = isolationOptions.sources;
  const a = [
    '--die-with-parent',
    '--new-session',
    '--unshare-user',
    '--disable-userns',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
  ];
  if (isolationOptions.network === 'none') a.push('--unshare-net');
  a.push('--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_UID), '--hostname', 'sandbox');
  a.push('--ro-bind', '/usr', '/usr');
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    const st = lstatSafe(top);
    if (!st) continue;
    if (st.isSymbolicLink()) a.push('--symlink', readlinkSync(top), top);
    else if (st.isDirectory()) a.push('--ro-bind', top, top);
  }
  if (src.chromium) a.push('--ro-bind', src.chromium.copy, src.chromium.target);
  a.push('--proc', '/proc', '--dev', '/dev');
  // Not writable for the sandbox's uid anyway; read-only mounts say so to anything that asks.
  for (const p of ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus'])
    if (existsSync(p)) a.push('--ro-bind', p, p);
  a.push('--bind', src.tmp, '/tmp', '--bind', src.workspace, WORKDIR, '--bind', src.home, HOME);
  a.push('--dir', '/etc');
  for (const f of ['passwd', 'group', 'hosts', 'hostname', 'nsswitch.conf', 'resolv.conf'])
    a.push('--ro-bind', path.join(src.etc, f), `/etc/${f}`);
  for (const f of HOST_ETC) if (existsSync(`/etc/${f}`)) a.push('--ro-bind', `/etc/${f}`, `/etc/${f}`);
  a.push(
    '--ro-bind',
    src.agent,
    `${AGENT_MOUNT}/agent`,
    '--ro-bind',
    path.join(src.runtime, 'package.json'),
    `${AGENT_MOUNT}/package.json`,
  );
  a.push('--ro-bind', src.node, `${AGENT_MOUNT}/node`, '--ro-bind', src.run, RUN_MOUNT);
  if (src.cgroupView) a.push('--ro-bind', src.cgroupView, '/sys/fs/cgroup');
  a.push('--remount-ro', '/', '--chdir', WORKDIR, '--clearenv');
  for (const [k, v] of Object.entries(isolationOptions.env)) a.push('--setenv', k, v);
  a.push('--', ...agentCommand(AGENT_MOUNT, isolationOptions.front));
  return a;
}

function lstatSafe(filePath: string) {
  try {
    return lstatSync(filePath);
  } catch {
    return undefined;
  }
}

/** The agent needs a package.json saying "module" beside it, as its mount has no parent package. */
export async function writeRuntime(runtimeDir: string): Promise<void> {
  await fs.mkdir(runtimeDir, { recursive: true });
  await fs.writeFile(path.join(runtimeDir, 'package.json'), '{"type":"module"}\n');
}
