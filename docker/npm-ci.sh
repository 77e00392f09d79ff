#!/bin/sh
# `npm ci` for the Dockerfile's install stages, with its build arguments: NPM_REGISTRY (a registry other
# than npm's default) and NPM_EXTRA_CA (PEM certificates to trust besides Node's own, e.g. a private
# registry's or a TLS-inspecting proxy's). Install scripts stay off: no dependency needs one to work (ssh2's
# optional native speed-up falls back to JavaScript). Extra arguments go to npm ci (--omit=dev).
set -eu
if [ -n "${NPM_EXTRA_CA:-}" ]; then
  printf '%s\n' "$NPM_EXTRA_CA" >/tmp/npm-extra-ca.pem
  export NODE_EXTRA_CA_CERTS=/tmp/npm-extra-ca.pem
fi
if [ -n "${NPM_REGISTRY:-}" ]; then
  set -- "$@" --registry "$NPM_REGISTRY"
fi
npm ci --ignore-scripts --no-audit --no-fund "$@"
npm cache clean --force
rm -f /tmp/npm-extra-ca.pem
