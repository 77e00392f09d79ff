#!/usr/bin/env bash
# The docker provider's kill controller (control.ts): one per container, started with it, kept on an
# open exec stream. It does kill.sh's work for lines read from stdin and answers on stdout:
#
#   kill TOKEN SIGNAL SESSION   -> done TOKEN
#   killall                     -> done killall COUNT
#
# It uses bash builtins only, never forks, so it still works when the sandbox has used up its process
# limit (a fork bomb), when no new exec can start. No arguments.

# The same selection as kill.sh: SANDBOX_MCP_EXEC=TOKEN (framing.ts MARKER_ENV) or the session.
killmarked() {
  local d p e st f g hit
  for d in /proc/[0-9]*; do
    p=${d#/proc/}; [ "$p" = "$$" ] && continue
    read -r st < "$d/stat" 2>/dev/null || continue
    # shellcheck disable=SC2206 # the stat fields after "comm) " are single words: split on purpose
    f=(${st##*) }); g=${f[2]}
    hit=
    [ "${3:-0}" -gt 1 ] 2>/dev/null && [ "${f[3]}" = "$3" ] && hit=1
    [ -n "$hit" ] || while IFS= read -r -d '' e; do [ "$e" = "SANDBOX_MCP_EXEC=$1" ] && { hit=1; break; }; done < "$d/environ" 2>/dev/null
    [ -n "$hit" ] || continue
    [ "$g" -gt 1 ] 2>/dev/null && kill -s "$2" -- "-$g" 2>/dev/null
    kill -s "$2" "$p" 2>/dev/null
  done
}

# Every process but PID 1 (docker-init), the container's main process and this controller; passes
# repeat while they find live ones (a fork bomb spawns between passes); zombies are skipped.
killall() {
  local d p st f pass found; local -A seen=()
  # shellcheck disable=SC2034 # a count of passes, at most 20
  for pass in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    found=0
    for d in /proc/[0-9]*; do
      p=${d#/proc/}
      { [ "$p" = 1 ] || [ "$p" = "$$" ] || [ "$p" = "$main" ]; } && continue
      read -r st < "$d/stat" 2>/dev/null || continue
      # shellcheck disable=SC2206 # as above
      f=(${st##*) }); [ "${f[0]}" = Z ] && continue
      kill -9 "$p" 2>/dev/null && { found=1; seen[$p]=1; }
    done
    [ "$found" = 0 ] && break
  done
  printf "done killall %s\n" "${#seen[@]}"
}

# The main process: at start, the lowest pid whose parent is PID 1 (exec'd processes have parent 0).
main=
for d in /proc/[0-9]*; do
  read -r st < "$d/stat" 2>/dev/null || continue
  # shellcheck disable=SC2206 # as above
  f=(${st##*) }); p=${d#/proc/}
  [ "${f[1]}" = 1 ] && { [ -z "$main" ] || [ "$p" -lt "$main" ]; } && main=$p
done
while read -r cmd a b c; do
  case "$cmd" in
    kill) killmarked "$a" "$b" "$c"; printf "done %s\n" "$a" ;;
    killall) killall ;;
    *) printf "done %s\n" "$a" ;;
  esac
done
