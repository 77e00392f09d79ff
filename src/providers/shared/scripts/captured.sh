#!/usr/bin/env bash
# Runs one of the file scripts (copy-files.ts, cloud providers) binary-safe over a vendor's text-only
# command API: stdin from a file, stdout to a file (read back through the files API), stderr to a file
# whose first 64 KiB are printed when the script fails. The last line printed is the exit status.
#
#   captured.sh SCRIPT INPUT OUTPUT ERRORS ARG...   INPUT empty: stdin is /dev/null; INPUT and ERRORS
#                                                    are removed afterwards
script=$1 input=$2 output=$3 errors=$4
shift 4
bash -c "$script" sandbox-mcp "$@" <"${input:-/dev/null}" >"$output" 2>"$errors"; s=$?
[ "$s" = 0 ] || head -c 65536 "$errors"
rm -f -- ${input:+"$input"} "$errors"
printf '\n%s' "$s"
