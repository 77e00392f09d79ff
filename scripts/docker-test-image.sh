# shellcheck shell=bash
# Docker engine and an offline test image for the Docker provider (Debian bookworm, as root).
# Source it (`. scripts/docker-test-image.sh`): `exit` then stops the calling job, and SANDBOX_DOCKER_IMAGE
# stays exported. Images cannot be pulled here, so the image is built from Debian's packages with
# debootstrap and `docker import`, with Node.js 20 and npm from the npm registry (scripts/node-dist.sh: Debian's
# Node 18 is too old for vite 7); the first run takes a few minutes, a rerun well under a second.
# `--bridge=none --iptables=false` keep dockerd off the host's network setup: sandbox containers run with
# `--network none` anyway. Each step has its own `|| exit 1` because `set -e` is ignored in a subshell
# followed by `||`; `flock` makes parallel jobs build once; the build folder is under /var/tmp because
# /tmp may be `nodev`.
export SANDBOX_DOCKER_IMAGE=${SANDBOX_DOCKER_IMAGE:-sandbox-mcp-test:bookworm-v5}  # bump the tag when the image changes
command -v docker >/dev/null && command -v dockerd >/dev/null && command -v debootstrap >/dev/null ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null; } || exit 1
if ! docker info >/dev/null 2>&1; then
  { [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; } ||
    setsid -f dockerd --iptables=false --bridge=none >/var/log/ci-dockerd.log 2>&1 </dev/null
  for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/ci-dockerd.log; exit 1; }
fi
# shellcheck disable=SC2015 # the last check runs after a build and after none alike
docker image inspect "$SANDBOX_DOCKER_IMAGE" >/dev/null 2>&1 || (
  exec 9>/var/tmp/ci-sandbox-image.lock && flock 9 || exit 1
  docker image inspect "$SANDBOX_DOCKER_IMAGE" >/dev/null 2>&1 && exit 0
  # shellcheck source=scripts/node-dist.sh
  . "$(dirname "${BASH_SOURCE[0]}")/node-dist.sh" || exit 1
  d=$(mktemp -d /var/tmp/ci-rootfs.XXXXXX) || exit 1; trap 'rm -rf "$d" "$d.log"' EXIT
  # The mirror apt itself uses here (deb822 .sources or a one-line sources.list), so a private one is followed.
  mirror=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p; s/^deb  *\(\[[^]]*\] *\)\{0,1\}\([^ ]*\).*/\2/p' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1)}
  [ -n "$mirror" ] || { echo "no Debian mirror in apt's sources: set DEBIAN_MIRROR"; exit 1; }
  debootstrap --variant=minbase --include=python3,procps bookworm "$d" "$mirror" >"$d.log" 2>&1 || { tail -20 "$d.log"; exit 1; }
  # Chromium for the browser tools (they start it inside the container and reach it over CDP), curl for the
  # egress tests (SANDBOX_NETWORK=egress: npm view and curl through the proxy). apt in the
  # chroot, not debootstrap's --include: debootstrap cannot order Chromium's desktop dependencies' postinsts.
  # policy-rc.d keeps postinsts from starting daemons; /proc is needed by some of them.
  printf '#!/bin/sh\nexit 101\n' >"$d/usr/sbin/policy-rc.d" && chmod 755 "$d/usr/sbin/policy-rc.d" && cp /etc/resolv.conf "$d/etc/resolv.conf" || exit 1
  # The CAs this host added (a TLS-intercepting proxy, a private registry's): ca-certificates' postinst
  # adds them to the image's store, so sandboxes trust the registries this host reaches.
  mkdir -p "$d/usr/local/share/ca-certificates" || exit 1
  for crt in /usr/local/share/ca-certificates/*.crt; do [ -f "$crt" ] && { cp "$crt" "$d/usr/local/share/ca-certificates/" || exit 1; }; done
  mount -t proc proc "$d/proc" || exit 1
  chroot "$d" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium curl ca-certificates && apt-get clean' >>"$d.log" 2>&1
  rc=$?; umount "$d/proc"; rm -f "$d/usr/sbin/policy-rc.d"; rm -rf "$d"/var/lib/apt/lists/*
  [ $rc = 0 ] || { tail -20 "$d.log"; exit 1; }
  install_node_dist "$d" || exit 1
  # What the provider expects of an image (README): a non-root user 1000 and a /workspace it owns.
  chroot "$d" /usr/sbin/useradd --uid 1000 --user-group --create-home --shell /bin/bash user || exit 1
  install -d -o 1000 -g 1000 -m 0755 "$d/workspace" || exit 1
  # Official Node trusts its own CA bundle only; NODE_EXTRA_CA_CERTS adds the image's store (the CAs above).
  set -o pipefail; tar -C "$d" -c . | docker import -c 'USER 1000:1000' \
    -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' -c 'WORKDIR /workspace' -c 'CMD ["/bin/bash"]' - "$SANDBOX_DOCKER_IMAGE" >/dev/null
) && docker image inspect "$SANDBOX_DOCKER_IMAGE" >/dev/null 2>&1 || { echo "test image missing"; exit 1; }
