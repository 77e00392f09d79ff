#!/usr/bin/env bash
# When a stateless handle's container was last used, kept where only sandbox-mcp writes: a root-owned
# folder in /tmp, made before any sandbox code runs. The sandbox runs as uid 1000 without capabilities,
# so it can neither touch the mark (and keep itself alive forever) nor replace it; a mark it could
# have made counts as none, and the container then is as old as it is since its creation.
#
#   last-use.sh touch   (as root) mark the container used now
#   last-use.sh age     seconds since the mark, by the container's clock; "none" without a sound mark
set -u
dir=/tmp/.sandbox-mcp-use
mark=$dir/last

sound() {
  [ -d "$dir" ] && [ ! -L "$dir" ] && [ "$(stat -c %u "$dir")" = 0 ] || return 1
  [ -f "$mark" ] && [ ! -L "$mark" ] && [ "$(stat -c %u "$mark")" = 0 ]
}

case "${1:-}" in
  touch)
    [ -e "$dir" ] || [ -L "$dir" ] || mkdir -m 755 "$dir" 2>/dev/null
    [ -d "$dir" ] && [ ! -L "$dir" ] && [ "$(stat -c %u "$dir")" = 0 ] || exit 3
    touch "$mark"
    ;;
  age)
    if sound; then
      echo $(($(date +%s) - $(stat -c %Y "$mark")))
    else
      echo none
    fi
    ;;
  *)
    echo "last-use.sh: unknown mode ${1:-}" >&2
    exit 2
    ;;
esac
