#!/usr/bin/env bash
# FilesApi.sha256 for providers without an agent: stdin holds NUL-separated paths; prints one hex
# digest per line, in order. Symlinks are not followed: anything but a regular file is refused.
fail() { printf 'E\t%s\t%s\t%s\n' "$1" "$2" "${3:-}" >&2; exit 3; }
while IFS= read -r -d '' file; do
  if [ -L "$file" ] || [ ! -f "$file" ]; then
    fail INVALID_ARGUMENT "$file is not a regular file" "hash regular files only"
  fi
  sum=$(sha256sum <"$file") || exit 1
  printf '%s\n' "${sum%% *}"
done
