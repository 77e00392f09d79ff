#!/usr/bin/env bash
# Runs one command for the Daytona provider (processes.ts), as `bash -c`, never sourced into the
# session's own shell: there an `exit` would kill the session, a bare `wait` would hang and an async
# command would block the next. Records its own pid in PID_FILE (for killing the tree later), checks the
# working directory (exit 97 with NO_CWD's text if it is missing), sets the environment, and runs
# COMMAND as a child so it can clean up after it. Exits with COMMAND's status.
#
#   wrap.sh PID_FILE CWD STDIN COMMAND [NAME=value...]
#     STDIN: empty keeps the session's stdin; /dev/null; or a file that is opened and removed at once
#     (so a killed command leaves none behind; PID_FILE is removed by signal-tree.sh then)
pid_file=$1 cwd=$2 stdin=$3 command=$4
shift 4
if [ -n "$stdin" ]; then
  exec 3<"$stdin"
  [ "$stdin" = /dev/null ] || rm -f -- "$stdin"
fi
echo $$ >"$pid_file"
cd -- "$cwd" 2>/dev/null || { echo 'sandbox-mcp: no such working directory' >&2; rm -f -- "$pid_file"; exit 97; }
for assignment in "$@"; do export "${assignment?}"; done
if [ -n "$stdin" ]; then bash -c "$command" <&3 3<&-; else bash -c "$command"; fi
rc=$?
rm -f -- "$pid_file"
exit $rc
