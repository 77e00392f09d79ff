#!/usr/bin/env bash
# Runs one command for the docker provider (framing.ts) and frames its output: stderr starts with
# "TOKEN:pid:PID" (the command's pid in the container) or "TOKEN:nocwd", stdout ends with
# "NUL ESC TOKEN:out:" and stderr with "NUL ESC TOKEN:exit:STATUS". TOKEN comes in SANDBOX_MCP_TOKEN
# (framing.ts TOKEN_ENV), per command and random, so the command's own output cannot forge the frame.
#
#   wrapper.sh CWD COMMAND [NAME=value...]
#
# The command runs in its own session (setsid), marked with SANDBOX_MCP_EXEC=TOKEN (framing.ts
# MARKER_ENV) so a kill finds every process of it; this wrapper, outside it, survives such a kill and
# reports the status at once. The caller's variables reach the command through env(1), never this
# bash: BASH_ENV, SHELLOPTS, PS4 or PATH given for the command would otherwise run in, trace or break
# the wrapper (its token in the output, a start reported as failed).
cd -- "$1" 2>/dev/null || { printf '%s:nocwd\n' "$SANDBOX_MCP_TOKEN" >&2; exit 1; }
# bash runs -c text line by line: the header line runs before the command is even parsed. The group's
# stderr is /dev/null only for the wrapper's own "Killed ..." job report (after a timeout or kill); the
# command writes to the real stderr (fd 3).
# shellcheck disable=SC2016 # the header line expands in the command's bash, not here
{ setsid -w env "${@:3}" "SANDBOX_MCP_EXEC=$SANDBOX_MCP_TOKEN" /bin/bash -c 'printf "%s:pid:%s\n" "$SANDBOX_MCP_EXEC" "$$" >&2'$'\n'"$2" 2>&3 3>&-; } 3>&2 2>/dev/null
s=$?
# stdout's trailer first: once both arrived, all the command's output has (pipes keep order per stream).
printf '\0\033%s:out:\n' "$SANDBOX_MCP_TOKEN"
printf '\0\033%s:exit:%s\n' "$SANDBOX_MCP_TOKEN" "$s" >&2
exit "$s"
