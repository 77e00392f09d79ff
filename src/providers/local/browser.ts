import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from '../../errors.js';
import type { BrowserEndpoint } from '../types.js';
import { AGENT_MOUNT } from '../../agent/protocol.js';
import { HOME, SANDBOX_UID } from './layout.js';

/** scripts/chromium-in-sandbox.sh says how Chromium gets into a local sandbox. */
const LAUNCHER_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scripts', 'chromium-in-sandbox.sh');

export function launcherPath(runtimeDir: string): string {
  return path.join(runtimeDir, 'chromium-in-sandbox.sh');
}

export async function writeLauncher(runtimeDir: string): Promise<void> {
  const file = launcherPath(runtimeDir);
  await fs.writeFile(`${file}.tmp`, await fs.readFile(LAUNCHER_SOURCE), { mode: 0o755 });
  await fs.rename(`${file}.tmp`, file);
}

/** The host pid of the sandbox's agent: the process whose namespaces, root and cwd Chromium joins. */
export function findAgentPid(launcherPid: number): number | undefined {
  const marker = `${AGENT_MOUNT}/agent/main.cjs`;
  const queue = [launcherPid];
  for (let depth = 0; queue.length && depth < 200; depth++) {
    const pid = queue.shift()!;
    if (pid !== launcherPid && cmdline(pid).includes(marker)) return pid;
    queue.push(...children(pid));
  }
  return undefined;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: scan every process for its parent.
    const found: number[] = [];
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(d));
      } catch {
        /* exited */
      }
    }
    return found;
  }
}

export interface LocalBrowserInfo {
  runtimeDir: string;
  isolation: 'bwrap' | 'unshare' | 'none';
  launcherPid: number;
  cgroupProcs: string[];
  /** Host folder of the sandbox's /tmp (isolation none: the profile lives there directly). */
  tmpDir: string;
  homeDir: string;
  sandboxId: string;
  /**
   * Chromium as a process of the sandbox, reached over CDP through the port bridge (cdp-browser.ts),
   * where the launcher cannot enter the sandbox: a server not run as root cannot join bwrap's nested user
   * namespace together with the namespaces its outer one owns.
   */
  overCdp: boolean;
}

export const CHROMIUM_HINT =
  'install Chromium (Debian/Ubuntu: apt-get install -y chromium; Fedora: dnf install chromium) or point SANDBOX_CHROMIUM_PATH / --chromium-path at a Chromium or Chrome binary under /usr (the part of the host a local sandbox sees)';

export async function localBrowserEndpoint(
  info: LocalBrowserInfo,
  chromiumPath: string,
  existsInSandbox: (p: string) => Promise<boolean>,
): Promise<BrowserEndpoint> {
  if (!(await existsInSandbox(chromiumPath))) {
    throw new SandboxError(
      'UNSUPPORTED',
      `no Chromium at ${chromiumPath} inside the sandbox, so the browser tools are unavailable`,
      { hint: CHROMIUM_HINT },
    );
  }
  const none = info.isolation === 'none';
  const target = none ? undefined : findAgentPid(info.launcherPid);
  if (!none && !target)
    throw new SandboxError('SANDBOX_GONE', "the sandbox's agent process is gone, so no browser can start in it", {
      hint: 'call the tool again: a fresh sandbox will be created',
    });
  return {
    kind: 'launch',
    executablePath: launcherPath(info.runtimeDir),
    // The server's environment stays out of the sandbox: Chromium gets only these.
    env: {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: none ? info.homeDir : HOME,
      TMPDIR: none ? info.tmpDir : '/tmp',
      LANG: 'C.UTF-8',
      // One profile per launch: sessions of a named workspace each run a Chromium in the same sandbox.
      SANDBOX_BROWSER_PROFILE: path.join(
        none ? info.tmpDir : '/tmp',
        `.sandbox-mcp-browser-profile-${randomBytes(4).toString('hex')}`,
      ),
      SANDBOX_BROWSER_CGROUP: info.cgroupProcs.join(' '),
      SANDBOX_BROWSER_CHROMIUM: chromiumPath,
      SANDBOX_BROWSER_TARGET: target ? String(target) : '',
      // The uid sandbox code runs as inside its user namespace: bwrap's user, or unshare's root.
      SANDBOX_BROWSER_UID: info.isolation === 'unshare' ? '0' : String(SANDBOX_UID),
    },
    // Names the sandbox on the Chromium command line, so its processes can be told apart.
    args: [`--sandbox-mcp-id=${info.sandboxId}`],
  };
}
