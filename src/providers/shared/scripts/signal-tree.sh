#!/usr/bin/env bash
# Signals a process and all its descendants (e2b and Daytona processes): the vendors' kill reaches only
# the pid they started, and grandchildren (a dev server under npm under bash) would survive. Every
# process of the tree is stopped first so none can fork a child we would miss, then signalled, then
# continued. A pid file whose process is now gone is removed: its wrapper removes it only when it ends
# by itself, and a stale one could later name an unrelated process that reused the pid. Always exits 0.
#
#   signal-tree.sh SIGNUM PID            SIGNUM: a signal number (9, 15, ...)
#   signal-tree.sh SIGNUM '' PID_FILE    the pid read from PID_FILE; nothing to do without one
sig=$1
pid=$2
[ -n "$pid" ] || pid=$(cat "$3" 2>/dev/null)
[ -n "$pid" ] || exit 0
kids() { cat /proc/"$1"/task/*/children 2>/dev/null || pgrep -P "$1" 2>/dev/null; }
# shellcheck disable=SC2046 # kids prints pids separated by white space: split on purpose
walk() { kill -STOP "$1" 2>/dev/null; echo "$1"; for c in $(kids "$1"); do walk "$c"; done; }
all=$(walk "$pid")
# shellcheck disable=SC2086 # a list of pids: split on purpose
kill -"$sig" $all 2>/dev/null
# shellcheck disable=SC2086
kill -CONT $all 2>/dev/null
# Gone, or a zombie its parent has not reaped yet (the third field of /proc/PID/stat, after the name).
gone() { case $(sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -c1) in '' | Z) return 0 ;; esac; return 1; }
if [ -n "${3:-}" ]; then
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    if gone "$pid"; then
      rm -f -- "$3"
      break
    fi
    sleep 0.05
  done
fi
true
