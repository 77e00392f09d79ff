# shellcheck shell=bash
# Put before launch.sh and stage.sh (launch.ts). A launcher started ahead of its sandbox (spare-launcher.ts)
# runs with "--params-on-stdin": with a disk cap it first copies the next sandbox's empty image (the server
# sets SANDBOX_SPARE_IMAGE), then waits for one line on stdin naming its parameters file: NUL-separated
# NAME=value words to export, "--", and the command line. Reading that line takes exactly its bytes, so
# what follows on stdin is the agent's. A server that ends first closes stdin: the launcher leaves.
# With SANDBOX_SPARE_UID too, the image's workspace and home become that uid's (debugfs edits the unmounted
# image), and spare_owner says so to stage.sh, which then has no chown to run. Nothing here writes to
# stdout: it is the agent's channel.
spare_image='' spare_owner=''
if [ "${1-}" = --params-on-stdin ]; then
  if [ -n "${SANDBOX_SPARE_IMAGE-}" ]; then
    spare_image=$SANDBOX_SPARE_IMAGE
    if cp --sparse=always "$SANDBOX_DISK_TEMPLATE" "$spare_image" >/dev/null 2>&1; then
      if [ -n "${SANDBOX_SPARE_UID-}" ] && PATH="$PATH:/usr/sbin:/sbin" debugfs -w -f - "$spare_image" >/dev/null 2>&1 <<OWNER; then
set_inode_field workspace uid $SANDBOX_SPARE_UID
set_inode_field workspace gid $SANDBOX_SPARE_UID
set_inode_field home uid $SANDBOX_SPARE_UID
set_inode_field home gid $SANDBOX_SPARE_UID
OWNER
        # shellcheck disable=SC2034 # read by stage.sh, which follows this text
        spare_owner=$SANDBOX_SPARE_UID
      fi
    else
      rm -f -- "$spare_image"
    fi
  fi
  if ! IFS= read -r params_file; then
    [ -z "$spare_image" ] || rm -f -- "$spare_image"
    exit 0
  fi
  mapfile -d '' -t params <"$params_file" || exit 72
  i=0
  while [ "$i" -lt "${#params[@]}" ] && [ "${params[i]}" != -- ]; do
    export "${params[i]?}" || exit 72
    i=$((i + 1))
  done
  set -- "${params[@]:i+1}"
  unset params_file params i SANDBOX_SPARE_IMAGE SANDBOX_SPARE_UID
fi
