#!/usr/bin/env bash
# Builds the server's own container image (the Dockerfile at the repository root) without pulling anything:
# images cannot be pulled here, so the Dockerfile's base (BASE_IMAGE, node:20-bookworm-slim for users with a
# registry) is made locally: Debian bookworm from apt's mirror with debootstrap, plus Node.js and npm from
# the npm registry (scripts/node-dist.sh, shared with the test image), then `docker import`. The base is
# built once per tag (about a minute), the server image on every run (Docker's layer cache keeps `npm ci` while
# package-lock.json is unchanged). Needs a running Docker engine (scripts/docker-test-image.sh starts one)
# and, as root, debootstrap. Prints the server image's tag on its last line.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=scripts/node-dist.sh
. scripts/node-dist.sh || exit 1
BASE_IMAGE=${SANDBOX_SERVER_BASE:-sandbox-mcp-node-base:bookworm-node$NODE_VERSION-v1} # bump -vN when the recipe changes
SERVER_IMAGE=${SANDBOX_SERVER_IMAGE:-sandbox-mcp-server:test}

docker info >/dev/null 2>&1 || { echo "no Docker engine answers: run scripts/docker-test-image.sh first" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }

build_base() {
  exec 9>/var/tmp/ci-server-base.lock && flock 9 || return 1
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  local root mirror rc
  root=$(mktemp -d /var/tmp/ci-server-rootfs.XXXXXX) || return 1
  # shellcheck disable=SC2064 # expand now: the folder is this call's
  trap "rm -rf '$root' '$root.log'" RETURN
  # The mirror apt itself uses here (deb822 .sources or a one-line sources.list), so a private one is followed.
  mirror=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p; s/^deb  *\(\[[^]]*\] *\)\{0,1\}\([^ ]*\).*/\2/p' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1)}
  [ -n "$mirror" ] || { echo "no Debian mirror in apt's sources: set DEBIAN_MIRROR" >&2; return 1; }
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" >"$root.log" 2>&1
  rc=$?
  [ $rc = 0 ] || { tail -20 "$root.log" >&2; return 1; }
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  install_node_dist "$root" || return 1
  # The official image's unprivileged user, which the Dockerfile runs as.
  chroot "$root" /usr/sbin/useradd --uid 1000 --user-group --create-home --shell /bin/bash node || return 1
  tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV NODE_VERSION='"$NODE_VERSION" -c 'CMD ["node"]' - "$BASE_IMAGE" >/dev/null || return 1
}

docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || (build_base) || { echo "building the base image $BASE_IMAGE failed" >&2; exit 1; }

# The legacy builder: this engine has no BuildKit client (buildx) here, and the Dockerfile needs nothing of
# BuildKit. --network host only for `npm ci` in the install stages: the npm registry is the one thing
# reachable. They use the registry npm is configured with here, and trust the CAs this machine added to
# its own store (Debian's /usr/local/share/ca-certificates: a TLS-inspecting proxy's, a private registry's).
extra_ca=$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null)
DOCKER_BUILDKIT=0 docker build --network host \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "NPM_REGISTRY=$(npm config get registry)" --build-arg "NPM_EXTRA_CA=$extra_ca" \
  -t "$SERVER_IMAGE" . >/var/tmp/ci-server-build.log 2>&1 || { tail -30 /var/tmp/ci-server-build.log >&2; echo "docker build of $SERVER_IMAGE failed" >&2; exit 1; }
echo "$SERVER_IMAGE"
