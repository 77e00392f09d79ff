# shellcheck shell=bash
# Starts one local sandbox of a server that is not root; run as `bash -c "$(cat launch.sh)" launch
# <isolation command...>`. Joins the sandbox's cgroups and sets its file size limit first, so every
# process in it inherits both. (A root server runs stage.sh instead.)
set -u
for f in $SANDBOX_CGROUP_PROCS; do echo $$ >"$f" || exit 70; done
ulimit -f "$SANDBOX_FSIZE_KB" || exit 71
unset SANDBOX_CGROUP_PROCS SANDBOX_FSIZE_KB
exec "$@"
