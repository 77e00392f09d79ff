# shellcheck shell=bash
# Root only, in a private mount namespace (launch.sh): nothing mounted here is seen by the host.
# 1. With a disk cap, mounts the sandbox's ext4 image (nosuid, nodev) and makes its workspace, home and
#    tmp folders in it; the writable folders are made the sandbox's host uid's. A named workspace's image is shared by every server on
#    the state dir: the lock makes them mount it through one loop device (mount reuses an attached one),
#    never two, which would corrupt it.
# 2. Opens every folder the sandbox needs while root can still reach it (the state dir may sit under a
#    folder only root can enter), covers /tmp with a small tmpfs and binds each open folder into it, so the
#    unprivileged isolation command finds them at $SANDBOX_STAGE_DIR/<name>. The descriptors are closed
#    before anything of the sandbox runs: an open host folder would be a way out of its root.
# 3. Drops to the sandbox's host uid with no groups, capabilities or way back, and runs the command.
set -eu
export PATH="$PATH:/usr/sbin:/sbin"
uid=$SANDBOX_HOST_UID
if [ -n "${SANDBOX_DISK_IMAGE:-}" ]; then
  img=$SANDBOX_DISK_IMAGE disk=$SANDBOX_DISK_DIR
  exec 9>"$img.lock"
  flock 9
  if [ ! -e "$img" ]; then
    rm -f "$img.new"
    truncate -s "${SANDBOX_DISK_MB}M" "$img.new"
    mkfs.ext4 -q -F -m 0 -E "root_owner=$uid:$uid,lazy_itable_init=1,lazy_journal_init=1" "$img.new" >/dev/null
    mv "$img.new" "$img"
  fi
  mkdir -p "$disk"
  mount -o loop,nosuid,nodev "$img" "$disk"
  exec 9>&-
  mkdir -p "$disk/workspace" "$disk/home" "$disk/tmp"
  chmod 1777 "$disk/tmp"
  legacy=${SANDBOX_LEGACY_WORKSPACE:-}
  if [ -n "$legacy" ] && [ -d "$legacy" ] && [ ! -e "$legacy.pre-disk-cap" ]; then
    cp -a "$legacy/." "$disk/workspace/" && mv "$legacy" "$legacy.pre-disk-cap"
  fi
fi
# The sandbox's writable folders belong to its uid; files of an earlier uid (a named workspace made
# before, or under another uid) become this one's.
while IFS= read -r d; do
  [ -z "$d" ] || [ "$(stat -c %u "$d")" = "$uid" ] || chown -R -h "$uid:$uid" "$d"
done <<<"$SANDBOX_OWNED"
names=() fds=()
while IFS='=' read -r name src; do
  [ -n "$name" ] || continue
  exec {fd}<"$src"
  names+=("$name") fds+=("$fd")
done <<<"$SANDBOX_STAGE"
mount -t tmpfs -o mode=1777,size=1m,nosuid,nodev sandbox-stage /tmp
S=$SANDBOX_STAGE_DIR
mkdir -m 0711 "$S"
install -d -o "$uid" -g "$uid" -m 0700 "$S/rootfs"
for i in "${!names[@]}"; do
  target="$S/${names[$i]}" fd=${fds[$i]}
  if [ -d "/proc/self/fd/$fd" ]; then mkdir "$target"; else : >"$target"; fi
  mount -c --bind "/proc/self/fd/$fd" "$target"
  eval "exec $fd<&-"
done
ulimit -f "$SANDBOX_FSIZE_KB"
unset SANDBOX_STAGE SANDBOX_STAGE_DIR SANDBOX_DISK_IMAGE SANDBOX_DISK_DIR SANDBOX_DISK_MB SANDBOX_LEGACY_WORKSPACE SANDBOX_OWNED \
  SANDBOX_HOST_UID SANDBOX_NPROC SANDBOX_CGROUP_PROCS SANDBOX_FSIZE_KB SANDBOX_STAGE_SCRIPT
exec setpriv --reuid "$uid" --regid "$uid" --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
