#!/usr/bin/env bash
# FilesApi.chmod for providers without an agent: permission bits $2 (octal) on $1, never through a symlink.
fail() { printf 'E\t%s\t%s\t%s\n' "$1" "$2" "${3:-}" >&2; exit 3; }
file=$1
if [ -L "$file" ]; then fail INVALID_ARGUMENT "$file is a symlink; its mode cannot be set" "set the mode of what it points to"; fi
[ -e "$file" ] || fail NOT_FOUND "$file: no such file or directory" "check the path"
chmod -- "$2" "$file"
