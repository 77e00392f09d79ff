#!/usr/bin/env bash
# The Python MCP SDK for test/surface.test.ts (it validates our tools' results with the SDK's own output
# schema checks): a venv in .venv-mcp with the `mcp` package from pip's configured index. Prints the
# venv's python on success; the test skips, saying why, without it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-mcp
if ! "$venv/bin/python" -c 'import mcp.client.stdio' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --retries 0 --timeout 10 'mcp>=1.10' >&2 2> >(grep -v '^WARNING' >&2)
fi
echo "$PWD/$venv/bin/python"
