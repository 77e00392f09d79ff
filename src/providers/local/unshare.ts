import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { AGENT_MOUNT, RUN_MOUNT } from './agent/protocol.js';
import { HOME, HOST_ETC, WORKDIR, type BwrapOptions } from './layout.js';

/**
 * The fallback when bubblewrap is missing: util-linux `unshare` makes the namespaces and a small
 * shell script builds the same read-only root bwrap would (tmpfs root, host /usr read-only, writable
 * workspace, tmp and home, a few device nodes), pivots into it, and runs the agent with every
 * capability dropped. `setpriv --pdeathsig` ties the sandbox to the server's life as bwrap's
 * --die-with-parent does. Inside, the user is root of its own user namespace, without capabilities.
 */
const SETUP = `
set -eu
R="$SANDBOX_ROOTFS"
mkdir -p "$R"
mount -t tmpfs -o mode=755 sandbox-root "$R"
mkdir -p "$R/usr" "$R/proc" "$R/dev" "$R/tmp" "$R${WORKDIR}" "$R${HOME}" "$R/etc" "$R${AGENT_MOUNT}/agent" "$R/.old"
bind() { # bind SRC DEST [ro]
  if [ -d "$1" ]; then mkdir -p "$R$2"; else mkdir -p "$(dirname "$R$2")"; : > "$R$2"; fi
  mount --rbind "$1" "$R$2"
  if [ "\${3:-}" = ro ]; then mount -o remount,bind,ro "$R$2"; fi
}
bind /usr /usr ro
for spec in $SANDBOX_TOPLINKS; do ln -s "\${spec#*=}" "$R\${spec%%=*}"; done
for d in $SANDBOX_TOPDIRS; do bind "$d" "$d" ro; done
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=755 dev "$R/dev"
for n in null zero full random urandom tty; do bind "/dev/$n" "/dev/$n"; done
mkdir -p "$R/dev/shm"; mount -t tmpfs -o mode=1777 shm "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
bind "$SANDBOX_DIR/tmp" /tmp
bind "$SANDBOX_WORKSPACE_DIR" ${WORKDIR}
bind "$SANDBOX_DIR/home" ${HOME}
for f in passwd group hosts hostname nsswitch.conf resolv.conf; do bind "$SANDBOX_DIR/etc/$f" "/etc/$f" ro; done
for f in $SANDBOX_HOSTETC; do bind "/etc/$f" "/etc/$f" ro; done
bind "$SANDBOX_AGENT" ${AGENT_MOUNT}/agent ro
bind "$SANDBOX_RUNTIME/package.json" ${AGENT_MOUNT}/package.json ro
bind "$SANDBOX_NODE" ${AGENT_MOUNT}/node ro
bind "$SANDBOX_DIR/run" ${RUN_MOUNT} ro
mount -o remount,bind,ro "$R"
cd "$R"
pivot_root . .old
umount -l /.old
rmdir /.old 2>/dev/null || true
cd ${WORKDIR}
hostname sandbox
# unshare leaves loopback down; servers inside need it (iproute2, else net-tools).
ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null || echo "sandbox: could not bring up loopback (install iproute2)" >&2
# The shell stays as pid 1 to reap orphans; the agent runs with no capabilities at all.
setpriv --inh-caps=-all --bounding-set=-all --no-new-privs -- env $SANDBOX_UNSET ${AGENT_MOUNT}/node ${AGENT_MOUNT}/agent/main.js
`;

export function unshareCommand(o: Omit<BwrapOptions, 'asRoot'> & { agentDir: string }): [string, string[]] {
  const links: string[] = [];
  const dirs: string[] = [];
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let st;
    try { st = lstatSync(top); } catch { continue; }
    if (st.isSymbolicLink()) links.push(`${top}=${readlinkSync(top)}`);
    else if (st.isDirectory()) dirs.push(top);
  }
  const vars: Record<string, string> = {
    SANDBOX_ROOTFS: path.join(o.paths.root, 'rootfs'),
    SANDBOX_DIR: o.paths.root,
    SANDBOX_WORKSPACE_DIR: o.paths.workspace,
    SANDBOX_TOPLINKS: links.join(' '),
    SANDBOX_TOPDIRS: dirs.join(' '),
    SANDBOX_HOSTETC: HOST_ETC.filter((f) => existsSync(`/etc/${f}`)).join(' '),
    SANDBOX_AGENT: o.agentDir,
    SANDBOX_RUNTIME: o.runtimeDir,
    SANDBOX_NODE: o.nodePath,
  };
  vars.SANDBOX_UNSET = Object.keys(vars).map((k) => `-u ${k}`).join(' ') + ' -u SANDBOX_UNSET';
  const flags = ['--user', '--map-root-user', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child', '--ipc', '--uts'];
  if (o.network === 'none') flags.push('--net');
  // env -i starts from nothing: the agent's environment plus the setup variables, which the script
  // removes again before starting the agent.
  const assignments = Object.entries({ ...o.env, ...vars }).map(([k, v]) => `${k}=${v}`);
  return ['setpriv', ['--pdeathsig', 'KILL', '--', 'unshare', ...flags, '--', 'env', '-i', ...assignments, '/bin/sh', '-c', SETUP]];
}
