#!/usr/bin/env bash
# The docker provider's port bridge (ports.ts): opens a TCP connection to PORT on the container's own
# loopback (IPv4, then IPv6) and copies bytes both ways between it and this script's stdin/stdout (the
# exec stream). Containers run with network none, so this is the only way in. "ok" on stderr says the
# connection is up; exit status 7: nothing listens on PORT.
#
#   port-bridge.sh PORT
{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || { exec 3<>"/dev/tcp/::1/$1"; } 2>/dev/null || exit 7
printf 'ok\n' >&2
# Background jobs get /dev/null as stdin, so the writer reads a saved copy (fd 4). The reader runs in the
# foreground: when the server closes the connection, the writer is stopped and the exec ends.
exec 4<&0
cat <&4 >&3 &
cat <&3
kill $! 2>/dev/null
