#!/usr/bin/env bash
# Checks once per server that the docker provider's image gives the sandbox user what the tools need
# (provider.ts probeImage): the commands the scripts use, and a writable /workspace. Exit status 2 with
# what is missing on stdout if not. No arguments.
for t in setsid env stat find grep mktemp; do command -v $t >/dev/null || { echo "missing $t"; exit 2; }; done; test -w /workspace || { echo "/workspace is not writable by uid 1000"; exit 2; }
