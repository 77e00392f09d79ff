#!/usr/bin/env bash
# FilesApi.walk for providers without an agent: every entry below folder $1, NUL-separated records of
# "type size mode mtime", path (relative to $1) and link target; symlinks are never followed. Stops
# after $2 + 1 entries (the caller reports the overflow). Errors: "E<TAB>CODE<TAB>message<TAB>hint".
fail() { printf 'E\t%s\t%s\t%s\n' "$1" "$2" "${3:-}" >&2; exit 3; }
root=$1
max=$2
if [ -L "$root" ] || [ ! -e "$root" ]; then fail NOT_FOUND "$root: no such folder" "check the path"; fi
[ -d "$root" ] || fail INVALID_ARGUMENT "$root is a file, not a folder" "walk a folder"
cd -- "$root" || exit 1
find . -mindepth 1 -printf '%y %s %m %T@\0%P\0%l\0' | head -z -n $((3 * (max + 1)))
status=${PIPESTATUS[0]}
# 141: find stopped by head (SIGPIPE) once enough was listed.
if [ "$status" != 0 ] && [ "$status" != 141 ]; then
  fail PERMISSION_DENIED "some folders under $root could not be read" "make them readable by the sandbox user (chmod u+rx)"
fi
exit 0
