#!/usr/bin/env bash
# Blue-green switch for compose.yaml's bluegreen profile: `scripts/bluegreen-switch.sh green` sends all new
# requests to sandbox-green once it reports healthy, by rewriting deploy/active-upstream.conf and
# reloading nginx (connections in flight finish on the old color). Then stop the old color with
# `docker compose stop sandbox-blue`: on SIGTERM it lets running calls finish (SANDBOX_SHUTDOWN_GRACE)
# and removes its sandboxes. Switching back is the same command with the other color.
set -euo pipefail
cd "$(dirname "$0")/.."
color=${1:-}
case "$color" in
  blue | green) ;;
  *) echo "usage: $0 blue|green" >&2; exit 2 ;;
esac
compose=(docker compose --profile bluegreen)
if ! "${compose[@]}" exec -T "sandbox-$color" node /app/docker/healthcheck.js; then
  echo "sandbox-$color is not healthy (its /healthz does not answer 200): not switching; see docker compose logs sandbox-$color" >&2
  exit 1
fi
tmp=$(mktemp deploy/.active-upstream.XXXXXX)
printf 'server sandbox-%s:3939;\n' "$color" >"$tmp"
chmod 644 "$tmp"
previous=$(cat deploy/active-upstream.conf)
mv "$tmp" deploy/active-upstream.conf
if ! "${compose[@]}" exec -T proxy nginx -t -q || ! "${compose[@]}" exec -T proxy nginx -s reload; then
  printf '%s\n' "$previous" >deploy/active-upstream.conf
  echo "nginx refused the new configuration: kept the previous one ($previous)" >&2
  exit 1
fi
echo "traffic now goes to sandbox-$color; stop the other color once its calls are done"
