#!/usr/bin/env bash
# The docker provider's file operations (files.ts), run in the container as the sandbox user so that
# every path, `..` and symlink resolves the way the sandbox sees it, with the sandbox user's permissions.
# Errors go to stderr as one "E<TAB>CODE<TAB>message<TAB>hint" line with exit status 3 (helper-errors.ts).
#
#   files.sh read PATH OFFSET LENGTH MAX     size line, then LENGTH bytes from OFFSET (no LENGTH: the
#                                            whole rest, refused past MAX bytes)
#   files.sh write PATH MODE                 stdin to PATH atomically (MODE octal, empty: keep or 644);
#                                            then as stat
#   files.sh stat PATH                       stat line, link target line, first bytes of a regular file
#   files.sh list PATH                       "type<TAB>size<TAB>mtime<TAB>name" records, NUL-terminated
#   files.sh mkdir PATH                      mkdir -p
#   files.sh remove PATH RECURSIVE           RECURSIVE=1 deletes a folder with its contents
#   files.sh rename FROM TO OVERWRITE        OVERWRITE=1 replaces an existing TO
#   files.sh tree PATH MAX FIND_ARGS...      find FIND_ARGS, at most MAX NUL-terminated records
#   files.sh search PATH SECONDS MAX_LINES GREP_FLAGS PATTERN
#                                            grep -P over the NUL-separated files on stdin (relative to
#                                            PATH), or PATH itself when it is a file

fail() { printf 'E\t%s\t%s\t%s\n' "$1" "$2" "${3:-}" >&2; exit 3; }
exists() { [ -e "$1" ] || [ -L "$1" ] || fail NOT_FOUND "$1: no such file or directory" "check the path with file_list"; }
not_regular() {
  fail INVALID_ARGUMENT "$1 is not a regular file (a device, FIFO or socket)" "read it with shell_exec instead, e.g. head -c 1000"
}
# Mount points of the container: deleting or moving one fails half-way, so it is refused up front.
guard() {
  case $1 in /|/workspace|/tmp|/home/user) fail PERMISSION_DENIED "$1 is a mount point of the sandbox and cannot be $2" "$3";; esac
}
# lstat fields: raw mode (hex), size, then atime, mtime, ctime, birth as "YYYY-MM-DD hh:mm:ss.n +0000".
stat_line() { stat --printf '%f\t%s\t%x\t%y\t%z\t%w\n' -- "$1"; }
# A sniff of the first bytes; bounded in time too, should the path have become a FIFO meanwhile.
sniff_head() { timeout -s KILL 5 head -c 8192 -- "$1"; }

# Only regular files, checked again on the open descriptor (/dev/fd/3): a path swapped to a device after
# the first test is refused, not read for ever.
op_read() {
  p=$1; off=$2; len=$3; max=$4
  exists "$p"
  [ -d "$p" ] && fail INVALID_ARGUMENT "$p is a directory" "use file_list to see its entries"
  [ -f "$p" ] || not_regular "$p"
  [ -r "$p" ] || fail PERMISSION_DENIED "$p: permission denied"
  exec 3<"$p" || exit 1
  [ -f /dev/fd/3 ] || not_regular "$p"
  size=$(stat -Lc %s /dev/fd/3) || exit 1
  if [ -z "$len" ] && [ $((size - off)) -gt "$max" ]; then fail LIMIT_EXCEEDED "$p is $size bytes, more than the $max one read moves" "read it in ranges (file_read with offset and limit), or work on it with shell_exec (head, tail, sed -n, split)"; fi
  printf "%s\n" "$size"
  tail -c "+$((off + 1))" <&3 | head -c "${len:-$((max + 1))}"
}

op_write() {
  p=$1; mode=$2
  # A final symlink is followed, as editors do; inside the container, so it can only lead to its own files.
  n=0; while [ -L "$p" ] && [ "$n" -lt 40 ]; do l=$(readlink -- "$p"); case $l in /*) p=$l;; *) p=$(dirname -- "$p")/$l;; esac; n=$((n + 1)); done
  [ -d "$p" ] && fail INVALID_ARGUMENT "$p is a directory" "write to a file path inside it"
  # A name is at most 255 bytes: 50 characters of it keep the temporary name under that.
  d=$(dirname -- "$p"); b=$(basename -- "$p"); b=${b:0:50}
  mkdir -p -- "$d" || exit 1
  if [ -z "$mode" ]; then if [ -e "$p" ]; then mode=$(stat -Lc %a -- "$p") || exit 1; else mode=644; fi; fi
  tmp=$(mktemp -- "$d/.$b.XXXXXX.tmp") || exit 1
  if cat >"$tmp" && chmod -- "$mode" "$tmp" && mv -fT -- "$tmp" "$p"; then :; else s=$?; rm -f -- "$tmp"; exit "$s"; fi
  stat_line "$p"; echo; [ -f "$p" ] && sniff_head "$p"; exit 0
}

op_stat() {
  p=$1
  exists "$p"
  stat_line "$p" || exit 1
  if [ -L "$p" ]; then readlink -- "$p"; else echo; fi
  [ -f "$p" ] && [ ! -L "$p" ] && [ -r "$p" ] && sniff_head "$p"
  exit 0
}

op_list() {
  p=$1
  exists "$p"
  [ -d "$p" ] || fail INVALID_ARGUMENT "$p is not a directory" "use file_info or file_read for a file"
  cd -- "$p" || exit 1
  find . -mindepth 1 -maxdepth 1 -printf '%y\t%s\t%T@\t%P\0'
}

op_mkdir() {
  p=$1
  [ -e "$p" ] && [ ! -d "$p" ] && fail ALREADY_EXISTS "$p already exists and is not a directory"
  mkdir -p -- "$p"
}

op_remove() {
  p=$1; r=$2
  exists "$p"
  guard "$p" deleted "delete the entries inside it instead"
  if [ -d "$p" ] && [ ! -L "$p" ]; then
    [ "$r" = 1 ] || fail INVALID_ARGUMENT "$p is a directory" "pass recursive: true to delete it with its contents"
    rm -rf -- "$p"
  else rm -f -- "$p"; fi
}

op_rename() {
  f=$1; t=$2; o=$3
  exists "$f"
  [ "$f" = "$t" ] && exit 0
  guard "$f" moved "move the entries inside it instead"
  case $t in "$f"/*) [ -d "$f" ] && fail INVALID_ARGUMENT "cannot move the folder $f into itself ($t)" "pick a destination outside it";; esac
  if [ "$o" != 1 ] && { [ -e "$t" ] || [ -L "$t" ]; }; then fail ALREADY_EXISTS "$t already exists" "pass overwrite: true to replace it, or give the full new path (to move into a folder, end \"to\" with the file name)"; fi
  [ -d "$t" ] && [ ! -L "$t" ] && [ ! -d "$f" ] && fail INVALID_ARGUMENT "$t is a folder and cannot be replaced by a file" "give the full new path inside it, e.g. \"folder/name\""
  mkdir -p -- "$(dirname -- "$t")" && mv -fT -- "$f" "$t"
}

# A walk stops at a cap of records anyway: find is stopped there instead of listing millions.
op_tree() {
  p=$1; max=$2
  exists "$p"
  [ -d "$p" ] || fail INVALID_ARGUMENT "$p is a file, not a folder" "use file_info or file_read for a file"
  shift 2; find "$@" 2>/dev/null | head -z -n "$max"; exit 0
}

# GREP_FLAGS ($4) is one word or several (-P, -Pi): split on purpose.
# shellcheck disable=SC2086
op_search() {
  p=$1
  exists "$p"
  printf "" | grep $4 -e "$5" >/dev/null 2>&1; [ $? -ge 2 ] && fail INVALID_ARGUMENT "invalid regex for grep -P: $5" "the docker provider searches with PCRE, close to JavaScript regex: simplify the pattern"
  list=$(mktemp) && cat >"$list" || exit 1
  # Matching lines are cut (a file of one 30 MB line would otherwise come back whole); a match is shown
  # shortened anyway.
  if [ -d "$p" ]; then cd -- "$p" || exit 1; timeout -s KILL "$2" xargs -0 -r grep -nHIZ $4 -e "$5" -- <"$list" | head -n "$3" | cut -b 1-8192; s=${PIPESTATUS[0]}
  else timeout -s KILL "$2" grep -nHIZ $4 -e "$5" -- "$p" | head -n "$3" | cut -b 1-8192; s=${PIPESTATUS[0]}; fi
  [ "$s" = 137 ] && printf "\ntimedout\n"
  # Binary files (grep -I skips them): non-empty, and no line of them matches the empty pattern.
  if [ -d "$p" ]; then printf "\n\0BINARY\0"; xargs -0 -r grep -ILZ -e "" -- <"$list" 2>/dev/null; fi
  rm -f -- "$list"; exit 0
}

op=$1
shift
case $op in
  read | write | stat | list | mkdir | remove | rename | tree | search) "op_$op" "$@" ;;
  *) fail INTERNAL "files.sh: unknown operation $op" ;;
esac
