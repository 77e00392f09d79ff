#!/bin/bash
# Chromium for a local sandbox runs INSIDE it (browser.ts): Playwright starts this launcher as if it were
# Chromium, with the CDP pipe on fds 3 and 4. It joins the sandbox's cgroup, enters all the namespaces of
# the sandbox's agent (user, mount, pid, net, ipc, uts, root, cwd), becomes the sandbox's user with no
# groups, capabilities or way back, and execs Chromium there, fds untouched. A root server's Chromium thus
# runs as the sandbox's own host uid, never as root. The profile Playwright made on the host is replaced
# by one in the sandbox's /tmp: the host path does not exist in there.
set -u
args=()
for a in "$@"; do
  case "$a" in --user-data-dir=*) args+=("--user-data-dir=$SANDBOX_BROWSER_PROFILE") ;; *) args+=("$a") ;; esac
done
for f in $SANDBOX_BROWSER_CGROUP; do echo $$ >"$f" || exit 70; done
chromium="$SANDBOX_BROWSER_CHROMIUM" profile="$SANDBOX_BROWSER_PROFILE" target="$SANDBOX_BROWSER_TARGET" uid="$SANDBOX_BROWSER_UID"
unset SANDBOX_BROWSER_PROFILE SANDBOX_BROWSER_CGROUP SANDBOX_BROWSER_CHROMIUM SANDBOX_BROWSER_TARGET SANDBOX_BROWSER_UID
if [ -z "$target" ]; then exec "$chromium" "${args[@]}"; fi
drop=(--inh-caps=-all --no-new-privs)
if [ "$uid" = 0 ]; then drop+=(--bounding-set=-all); fi
# shellcheck disable=SC2016 # the inner shell expands $0 and $@
inside=(setpriv "${drop[@]}" -- /bin/sh -c 'rm -rf "$0"; exec "$@"' "$profile" "$chromium" "${args[@]}")
# Root becomes the sandbox's user as it enters (its groups cleared first: in there they can no longer be).
if [ "$(id -u)" = 0 ]; then
  exec setpriv --clear-groups -- nsenter --setuid "$uid" --setgid "$uid" \
    --target "$target" --user --mount --pid --net --ipc --uts --root --wd -- "${inside[@]}"
fi
# The server's own user already is the sandbox's user in there (unshare's user namespace is its own).
# bwrap's --disable-userns nests the sandbox in a second user namespace, which no process of the server's
# user can enter together with the others: such sandboxes run Chromium over CDP instead (sandbox.ts).
if [ "$(readlink "/proc/$target/ns/user")" != "$(readlink "/proc/$(awk '{print $4}' "/proc/$target/stat")/ns/user")" ]; then
  echo "chromium-in-sandbox: the sandbox's user namespace is nested; start Chromium over CDP" >&2
  exit 78
fi
exec nsenter --preserve-credentials --target "$target" --user --mount --pid --net --ipc --uts --root --wd -- "${inside[@]}"
