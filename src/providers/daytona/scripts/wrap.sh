#!/usr/bin/env bash
# Runs one command for the Daytona provider (processes.ts), as `bash -c`, never sourced into the
# session's own shell: there an `exit` would kill the session, a bare `wait` would hang and an async
# command would block the next. Records its own pid in PID_FILE (for killing the tree later), checks the
# working directory (exit 97 with NO_CWD's text if it is missing), sets the environment, and runs
# COMMAND as a child so it can clean up after it. Exits with COMMAND's status.
#
#   wrap.sh PID_FILE CWD STDIN COMMAND [NAME=value...]
#     STDIN: empty keeps the session's stdin; /dev/null; or a file that is read and then removed
pid_file=$1 cwd=$2 stdin=$3 command=$4
shift 4
cleanup=("$pid_file")
case $stdin in '' | /dev/null) ;; *) cleanup+=("$stdin") ;; esac
echo $$ >"$pid_file"
cd -- "$cwd" 2>/dev/null || { echo 'sandbox-mcp: no such working directory' >&2; rm -f "${cleanup[@]}"; exit 97; }
for assignment in "$@"; do export "${assignment?}"; done
if [ -n "$stdin" ]; then bash -c "$command" <"$stdin"; else bash -c "$command"; fi
rc=$?
rm -f "${cleanup[@]}"
exit $rc
