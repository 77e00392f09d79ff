# shellcheck shell=sh
# The fallback when bubblewrap is missing (unshare.ts): run by `unshare --user --map-root-user --mount
# --pid --fork ...` as root of the new user namespace, it builds the read-only root bwrap would (tmpfs
# root, host /usr read-only, writable workspace, tmp and home, a few device nodes), pivots into it, and runs
# the agent with every capability dropped. It also closes what bwrap's --disable-userns and /proc cover
# close: no user namespace can be made inside (so no new proc or cgroup mounts), and /proc/sys with its
# siblings is read-only.
set -eu
R="$SANDBOX_ROOTFS"
mkdir -p "$R"
mount -t tmpfs -o mode=755,nosuid sandbox-root "$R"
mkdir -p "$R/usr" "$R/proc" "$R/dev" "$R/tmp" "$R$SANDBOX_MNT_WORKDIR" "$R$SANDBOX_MNT_HOME" "$R/etc" "$R$SANDBOX_MNT_AGENT/agent" "$R/.old"
bind() { # bind SRC DEST [ro]
  if [ -d "$1" ]; then mkdir -p "$R$2"; elif [ ! -e "$R$2" ]; then mkdir -p "$(dirname "$R$2")"; : >"$R$2"; fi
  mount --rbind "$1" "$R$2"
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$R$2"; fi
}
bind /usr /usr ro
if [ -n "$SANDBOX_CHROMIUM_COPY" ]; then bind "$SANDBOX_CHROMIUM_COPY" "$SANDBOX_CHROMIUM_TARGET" ro; fi
for spec in $SANDBOX_TOPLINKS; do ln -s "${spec#*=}" "$R${spec%%=*}"; done
for d in $SANDBOX_TOPDIRS; do bind "$d" "$d" ro; done
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
# Per user namespace: 0 here means nothing inside can make one (setting it needs this shell's capabilities).
echo 0 >/proc/sys/user/max_user_namespaces || { echo "sandbox: cannot disable nested user namespaces" >&2; exit 72; }
for p in sys sysrq-trigger irq bus; do
  if [ -e "$R/proc/$p" ]; then mount --bind "$R/proc/$p" "$R/proc/$p" && mount -o remount,bind,ro "$R/proc/$p"; fi
done
mount -t tmpfs -o mode=755,nosuid dev "$R/dev"
for n in null zero full random urandom tty; do bind "/dev/$n" "/dev/$n"; done
mkdir -p "$R/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
bind "$SANDBOX_TMP_DIR" /tmp
bind "$SANDBOX_WORKSPACE_DIR" "$SANDBOX_MNT_WORKDIR"
bind "$SANDBOX_HOME_DIR" "$SANDBOX_MNT_HOME"
for f in passwd group hosts hostname nsswitch.conf resolv.conf; do bind "$SANDBOX_ETC_DIR/$f" "/etc/$f" ro; done
for f in $SANDBOX_HOSTETC; do bind "/etc/$f" "/etc/$f" ro; done
bind "$SANDBOX_AGENT" "$SANDBOX_MNT_AGENT/agent" ro
bind "$SANDBOX_RUNTIME/package.json" "$SANDBOX_MNT_AGENT/package.json" ro
bind "$SANDBOX_NODE" "$SANDBOX_MNT_AGENT/node" ro
bind "$SANDBOX_RUN_DIR" "$SANDBOX_MNT_RUN" ro
# The memory limit where runtimes read it (layout.ts writeCgroupView), when a cgroup sets one.
if [ -n "$SANDBOX_CGROUP_VIEW" ]; then bind "$SANDBOX_CGROUP_VIEW" /sys/fs/cgroup ro; fi
mount -o remount,bind,ro "$R"
cd "$R"
pivot_root . .old
umount -l /.old
rmdir /.old 2>/dev/null || true
cd "$SANDBOX_MNT_WORKDIR"
hostname sandbox
# unshare leaves loopback down; servers inside need it (iproute2, else net-tools).
ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null || echo "sandbox: could not bring up loopback (install iproute2)" >&2
# The shell stays as pid 1 to reap orphans; the agent runs with no capabilities at all.
# The agent's native front, when there is one, comes first (layout.ts agentCommand).
# shellcheck disable=SC2086 # SANDBOX_UNSET, SANDBOX_AGENT_FRONT and SANDBOX_AGENT_FLAGS are lists of words
setpriv --inh-caps=-all --bounding-set=-all --no-new-privs -- env $SANDBOX_UNSET $SANDBOX_AGENT_FRONT "$SANDBOX_MNT_AGENT/node" $SANDBOX_AGENT_FLAGS "$SANDBOX_MNT_AGENT/agent/main.cjs"
