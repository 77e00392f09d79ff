#!/usr/bin/env bash
# FilesApi.symlink for providers without an agent: a link at $2 holding $1 as it is (never resolved).
fail() { printf 'E\t%s\t%s\t%s\n' "$1" "$2" "${3:-}" >&2; exit 3; }
target=$1
link=$2
if [ -e "$link" ] || [ -L "$link" ]; then fail ALREADY_EXISTS "$link already exists" "delete it first"; fi
mkdir -p -- "$(dirname -- "$link")" || exit 1
ln -sT -- "$target" "$link"
