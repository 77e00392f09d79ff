#!/usr/bin/env bash
# The official MCP conformance suite and the Node.js 22 it needs (it calls fs.globSync), installed from
# the npm registry into .conformance/ (or $SANDBOX_CONFORMANCE_DIR), apart from the project: the server
# and its tests keep running on the machine's Node.js 20. test/conformance.test.ts runs the suite from
# there and skips, saying why, when it is missing. A rerun with both in place does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${SANDBOX_CONFORMANCE_DIR:-.conformance}
version=0.2.0-alpha.12  # keep in step with CONFORMANCE_VERSION in test/conformance.test.ts
installed() {
  [ -x "$dir/node_modules/.bin/node" ] && "$dir/node_modules/.bin/node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' &&
    grep -q "\"version\": \"$version\"" "$dir/node_modules/@modelcontextprotocol/conformance/package.json" 2>/dev/null
}
installed && exit 0
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{ "private": true, "description": "MCP conformance suite for sandbox-mcp tests" }' >"$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund "node@22" "@modelcontextprotocol/conformance@$version"
installed || { echo "conformance-install: node 22 or the suite is still missing under $dir" >&2; exit 1; }
