# shellcheck shell=bash
# Starts one local sandbox; run by the server as `bash -c "$(cat launch.sh)" launch <isolation command...>`.
# Joins the sandbox's cgroups and sets its rlimits first, so every process in it inherits both (a root
# server's file size limit waits for stage.sh: its disk image is larger). When the
# server runs as root, the sandbox must not: stage.sh then runs in a private mount namespace, stages the
# sandbox's folders where its own host uid can reach them, and drops to that uid before the isolation
# command (bwrap, or unshare with unshare-setup.sh) starts.
set -u
for f in $SANDBOX_CGROUP_PROCS; do echo $$ >"$f" || exit 70; done
if [ -z "${SANDBOX_HOST_UID:-}" ]; then
  ulimit -f "$SANDBOX_FSIZE_KB" || exit 71
  unset SANDBOX_CGROUP_PROCS SANDBOX_FSIZE_KB SANDBOX_HOST_UID SANDBOX_STAGE_SCRIPT
  exec "$@"
fi
# One host uid per sandbox, so this also caps its process count where no cgroup does.
ulimit -u "$SANDBOX_NPROC" || exit 71
exec unshare --mount --propagation private -- /bin/bash --norc --noprofile -c "$SANDBOX_STAGE_SCRIPT" stage "$@"
