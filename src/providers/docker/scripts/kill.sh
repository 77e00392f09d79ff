#!/usr/bin/env bash
# Signals every process of one command of the docker provider (exec.ts kill): each process carrying
# SANDBOX_MCP_EXEC=TOKEN (framing.ts MARKER_ENV) in its environment or still in the command's session
# (a child that cleared its environment, `env -i`, keeps the session), and the process groups they lead
# or belong to, so children that moved to their own group or session die too.
#
#   kill.sh TOKEN SIGNAL SESSION     SESSION: the command's session id (0: none)
me=$$
for d in /proc/[0-9]*; do
  p=${d#/proc/}; [ "$p" = "$me" ] && continue
  read -r st < "$d/stat" 2>/dev/null || continue
  # The fields after "comm) ": state, ppid, pgrp, session, ... (single words, split on purpose).
  # shellcheck disable=SC2206
  f=(${st##*) }); g=${f[2]}
  [ "${3:-0}" -gt 1 ] 2>/dev/null && [ "${f[3]}" = "$3" ] || grep -qzxF "SANDBOX_MCP_EXEC=$1" "$d/environ" 2>/dev/null || continue
  [ "$g" -gt 1 ] 2>/dev/null && kill -s "$2" -- "-$g" 2>/dev/null
  kill -s "$2" "$p" 2>/dev/null
done
exit 0
