#!/usr/bin/env bash
# Puts an uploaded temporary file in place for the Daytona provider's file writes (files.ts): gives it
# MODE and renames it over FILE (one rename: readers see the old content or the new, never half).
#
#   install-temp.sh MODE TEMP FILE     MODE: octal
chmod "$1" "$2" && mv -f "$2" "$3"
