import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { AGENT_MOUNT, RUN_MOUNT } from '../../agent/protocol.js';
import { AGENT_NODE_FLAGS, HOME, HOST_ETC, WORKDIR, type IsolationOptions } from './layout.js';

/**
 * The fallback when bubblewrap is missing: util-linux `unshare` makes the namespaces and
 * scripts/unshare-setup.sh builds the same read-only root bwrap would, pivots into it, and runs the
 * agent with every capability dropped. `setpriv --pdeathsig` ties the sandbox to the server's life as
 * bwrap's --die-with-parent does. Inside, the user is root of its own user namespace, without
 * capabilities, mapped to the server's uid (a root server has dropped to the sandbox's own uid first).
 */
export function unshareCommand(options: IsolationOptions & { setupScript: string }): [string, string[]] {
  const links: string[] = [];
  const dirs: string[] = [];
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let st;
    try {
      st = lstatSync(top);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) links.push(`${top}=${readlinkSync(top)}`);
    else if (st.isDirectory()) dirs.push(top);
  }
  const src = options.sources;
  const vars: Record<string, string> = {
    SANDBOX_ROOTFS: src.rootfs,
    SANDBOX_WORKSPACE_DIR: src.workspace,
    SANDBOX_TMP_DIR: src.tmp,
    SANDBOX_HOME_DIR: src.home,
    SANDBOX_ETC_DIR: src.etc,
    SANDBOX_RUN_DIR: src.run,
    SANDBOX_TOPLINKS: links.join(' '),
    SANDBOX_TOPDIRS: dirs.join(' '),
    SANDBOX_HOSTETC: HOST_ETC.filter((f) => existsSync(`/etc/${f}`)).join(' '),
    SANDBOX_AGENT: src.agent,
    SANDBOX_RUNTIME: src.runtime,
    SANDBOX_NODE: src.node,
    SANDBOX_CHROMIUM_COPY: src.chromium?.copy ?? '',
    SANDBOX_CHROMIUM_TARGET: src.chromium?.target ?? '',
    SANDBOX_CGROUP_VIEW: src.cgroupView ?? '',
    SANDBOX_AGENT_FLAGS: AGENT_NODE_FLAGS.join(' '),
    SANDBOX_AGENT_FRONT: options.front ? `${AGENT_MOUNT}/agent/front` : '',
    SANDBOX_MNT_WORKDIR: WORKDIR,
    SANDBOX_MNT_HOME: HOME,
    SANDBOX_MNT_AGENT: AGENT_MOUNT,
    SANDBOX_MNT_RUN: RUN_MOUNT,
  };
  vars.SANDBOX_UNSET =
    Object.keys(vars)
      .map((k) => `-u ${k}`)
      .join(' ') + ' -u SANDBOX_UNSET';
  const flags = [
    '--user',
    '--map-root-user',
    '--mount',
    '--propagation',
    'private',
    '--pid',
    '--fork',
    '--kill-child',
    '--ipc',
    '--uts',
  ];
  if (options.network === 'none') flags.push('--net');
  // env -i starts from nothing: the agent's environment plus the setup variables, which the script
  // removes again before starting the agent.
  const assignments = Object.entries({ ...options.env, ...vars }).map(([k, v]) => `${k}=${v}`);
  return [
    'setpriv',
    [
      '--pdeathsig',
      'KILL',
      '--',
      'unshare',
      ...flags,
      '--',
      'env',
      '-i',
      ...assignments,
      '/bin/sh',
      '-c',
      options.setupScript,
    ],
  ];
}
