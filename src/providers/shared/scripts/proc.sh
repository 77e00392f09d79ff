#!/usr/bin/env bash
# Background processes recorded inside the sandbox, so that any server replica can read, signal and
# list a process another replica started (cloud providers). One folder per sandbox holds, per process
# ID: ID.json (what started it), ID.pid, ID.log (stdout and stderr, as the starting server streams
# them), ID.exit (exit status, once it exited by itself) and ID.signal (the signal shell_kill sent).
#
#   proc.sh run DIR ID META_BASE64 COMMAND   record and run COMMAND (stdin is this script's)
#   proc.sh read DIR ID CURSOR MAX           state, pid, size, meta line, then MAX bytes from CURSOR (base64)
#   proc.sh list DIR                         one line per process: ID state pid size meta
#   proc.sh kill DIR ID SIGNUM SIGNAME       signal the process and all its descendants
#   proc.sh mark DIR ID SIGNAME              record SIGNAME as sent (the caller signals the process itself)
set -u
mode=$1
dir=$2

state_of() {
  local f=$1 pid
  if [ -f "$f.exit" ]; then
    printf 'exit:%s' "$(cat "$f.exit")"
    return
  fi
  pid=$(cat "$f.pid" 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    printf 'running'
  else
    printf 'dead:%s' "$(cat "$f.signal" 2>/dev/null)"
  fi
}

describe() {
  local f=$1
  printf '%s %s %s\n' "$(state_of "$f")" "$(cat "$f.pid" 2>/dev/null || echo -1)" \
    "$(stat -c %s "$f.log" 2>/dev/null || echo 0)"
  cat "$f.json"
  echo
}

kids() { cat "/proc/$1/task/"*/children 2>/dev/null || pgrep -P "$1" 2>/dev/null; }
walk() {
  kill -STOP "$1" 2>/dev/null
  echo "$1"
  local c
  for c in $(kids "$1"); do walk "$c"; done
}

case "$mode" in
  run)
    id=$3
    f="$dir/$id"
    mkdir -p "$dir" && chmod 700 "$dir"
    # The record appears whole and last: a reader that finds ID.json finds the pid and the log too.
    echo $$ >"$f.pid"
    : >"$f.log"
    printf '%s' "$4" | base64 -d >"$f.json.tmp" && mv -f "$f.json.tmp" "$f.json"
    bash -c "$5" 2>&1 | tee -a "$f.log"
    rc=${PIPESTATUS[0]}
    echo "$rc" >"$f.exit"
    exit "$rc"
    ;;
  read)
    f="$dir/$3"
    [ -f "$f.json" ] || exit 3
    # The state first: once it says exited, every byte of output is already in the log.
    describe "$f"
    tail -c "+$(($4 + 1))" "$f.log" 2>/dev/null | head -c "$5" | base64 -w0
    ;;
  list)
    for meta in "$dir"/*.json; do
      [ -f "$meta" ] || continue
      f=${meta%.json}
      printf '%s ' "${f##*/}"
      describe "$f" | tr '\n' ' '
      echo
    done
    ;;
  kill)
    f="$dir/$3"
    [ -f "$f.json" ] || exit 3
    pid=$(cat "$f.pid" 2>/dev/null)
    [ -f "$f.exit" ] || printf '%s' "$5" >"$f.signal"
    if [ -n "$pid" ]; then
      all=$(walk "$pid")
      # shellcheck disable=SC2086 # one pid per word
      kill "-$4" $all 2>/dev/null
      # shellcheck disable=SC2086
      kill -CONT $all 2>/dev/null
    fi
    true
    ;;
  mark)
    f="$dir/$3"
    [ -f "$f.json" ] || exit 3
    [ -f "$f.exit" ] || printf '%s' "$4" >"$f.signal"
    ;;
  *)
    echo "proc.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
