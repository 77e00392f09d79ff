#!/usr/bin/env bash
# Finds a Chromium for the browser tools of a cloud or docker sandbox (cdp-browser.ts): prints the path
# of the first NAME that is an executable on the sandbox's PATH (or an executable path itself); exit
# status 3 when none is.
#
#   find-chromium.sh NAME...
for c in "$@"; do p=$(command -v "$c" 2>/dev/null) && [ -x "$p" ] && { echo "$p"; exit 0; }; done; exit 3
