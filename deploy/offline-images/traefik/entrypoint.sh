#!/bin/sh
# As the official image: arguments that start with "-" (or name no command) are traefik's flags.
set -e
if [ "${1#-}" != "$1" ] || ! command -v "$1" >/dev/null 2>&1; then
  set -- traefik "$@"
fi
exec "$@"
