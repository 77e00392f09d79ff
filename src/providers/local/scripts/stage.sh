# shellcheck shell=bash
# Starts one local sandbox of a root server, which must not hand root to it; run as `unshare --mount
# --propagation private bash -c "$(cat stage.sh)" stage <isolation command...>`: nothing mounted here is
# seen by the host. Joins the sandbox's cgroups first, so every process in it inherits them.
# 1. With a disk cap, mounts the sandbox's ext4 image (nosuid, nodev) at its disk folder and makes its
#    workspace, home (the sandbox's uid's) and tmp folders in it. A new image is the spare the server
#    copied ahead and moved in, or a sparse copy of the empty one it made at start. A named workspace's image is shared
#    by every server on the state dir: the lock makes them mount it through one loop device (mount reuses
#    an attached one), never two, which would corrupt it; its files become this uid's if an earlier one
#    made them.
# 2. Opens every folder the sandbox needs while root can still reach it (the state dir may sit under a
#    folder only root can enter), covers /tmp with a small tmpfs and binds each open folder into it, so the
#    unprivileged isolation command finds them at $SANDBOX_STAGE_DIR/<name>. The descriptors are closed
#    before anything of the sandbox runs: an open host folder would be a way out of its root.
# 3. Drops to the sandbox's host uid with no groups, capabilities or way back, and runs the command.
# Each program started here costs milliseconds of a cold start: the steps are batched.
set -eu
export PATH="$PATH:/usr/sbin:/sbin"
uid=$SANDBOX_HOST_UID
for f in $SANDBOX_CGROUP_PROCS; do echo $$ >"$f" || exit 70; done
# One host uid per sandbox, so this also caps its process count where no cgroup does.
ulimit -u "$SANDBOX_NPROC"
if [ -n "${SANDBOX_DISK_IMAGE:-}" ]; then
  img=$SANDBOX_DISK_IMAGE disk=$SANDBOX_DISK_DIR
  if [ -n "${SANDBOX_LEGACY_WORKSPACE:-}" ]; then
    # A named workspace's image appears whole or not at all, and is mounted by one server at a time.
    exec 9>"$img.lock"
    flock 9
    fresh=
    if [ ! -e "$img" ]; then
      cp --sparse=always "$SANDBOX_DISK_TEMPLATE" "$img.new"
      mv "$img.new" "$img"
      fresh=1
    fi
  else
    # A sandbox's own image is new and its alone: the spare the server moved in, else a copy made here.
    [ -e "$img" ] || cp --sparse=always "$SANDBOX_DISK_TEMPLATE" "$img"
    fresh=1
  fi
  mount -t ext4 -o loop,nosuid,nodev "$img" "$disk"
  exec 9>&-
  # The template holds workspace, home and tmp (1777) already.
  if [ -n "$fresh" ]; then
    legacy=${SANDBOX_LEGACY_WORKSPACE:-}
    if [ -n "$legacy" ] && [ -d "$legacy" ] && [ ! -e "$legacy.pre-disk-cap" ]; then
      cp -a "$legacy/." "$disk/workspace/" && mv "$legacy" "$legacy.pre-disk-cap"
      chown -R -h "$uid:$uid" "$disk/workspace"
    fi
    # A spare launcher's image may already be this uid's (params.sh).
    if [ "$img" != "${spare_image-}" ] || [ "${spare_owner-}" != "$uid" ]; then
      chown -h "$uid:$uid" "$disk/workspace" "$disk/home"
    fi
  elif [ "$(stat -c %u "$disk/workspace")" != "$uid" ]; then
    chown -R -h "$uid:$uid" "$disk/workspace" "$disk/home"
  fi
fi
names=() fds=()
while IFS='=' read -r name src; do
  [ -n "$name" ] || continue
  exec {fd}<"$src"
  names+=("$name") fds+=("$fd")
done <<<"$SANDBOX_STAGE"
# One mount(8) for the tmpfs over /tmp and every bind (rbind: the disk image mounted inside the sandbox's
# folder comes along). The list sits in the sandbox's own folder, which only root and this launcher see.
S=$SANDBOX_STAGE_DIR fstab=$SANDBOX_STAGE_FSTAB
printf 'sandbox-stage /tmp tmpfs mode=1777,size=1m,nosuid,nodev 0 0\n' >"$fstab"
for i in "${!names[@]}"; do
  printf '/proc/self/fd/%s %s/%s none rbind,X-mount.mkdir 0 0\n' "${fds[$i]}" "$S" "${names[$i]}" >>"$fstab"
done
mount -a -c -T "$fstab"
for fd in "${fds[@]}"; do eval "exec $fd<&-"; done
ulimit -f "$SANDBOX_FSIZE_KB"
unset SANDBOX_STAGE SANDBOX_STAGE_DIR SANDBOX_STAGE_FSTAB SANDBOX_DISK_IMAGE SANDBOX_DISK_DIR SANDBOX_DISK_TEMPLATE SANDBOX_LEGACY_WORKSPACE \
  SANDBOX_HOST_UID SANDBOX_NPROC SANDBOX_CGROUP_PROCS SANDBOX_FSIZE_KB
exec setpriv --reuid "$uid" --regid "$uid" --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
