#!/usr/bin/env bash
# FilesApi.append for providers without an agent: stdin appended to regular file $1, created 0600
# (parents too) when missing; a symlink at $1 is refused, never followed.
fail() { printf 'E\t%s\t%s\t%s\n' "$1" "$2" "${3:-}" >&2; exit 3; }
file=$1
if [ -L "$file" ]; then fail INVALID_ARGUMENT "$file is a symlink; appends never follow one" "append to a regular file"; fi
if [ -e "$file" ]; then
  [ -f "$file" ] || fail INVALID_ARGUMENT "$file is not a regular file" "append to a regular file"
else
  mkdir -p -- "$(dirname -- "$file")" || exit 1
  (umask 077 && : >"$file") || exit 1
fi
cat >>"$file"
