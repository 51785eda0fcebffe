#!/usr/bin/env bash
# Builds the base image kokanee's Dockerfile starts from, from Debian packages alone: no image
# registry is needed (none is reachable on the machines this project is built on). Debian 12
# "bookworm" minbase, made an image with `docker import`. Its python3 is 3.11, as kokanee needs.
#
#   deploy/docker/build-base.sh [IMAGE]     (default kokanee-base:bookworm; kept if it exists)
#
# Where a registry is reachable, `--build-arg BASE=debian:bookworm-slim` does the same job.
set -euo pipefail

IMAGE="${1:-kokanee-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKER="${DOCKER:-docker}"

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "base image $IMAGE exists"
    exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }

root="$(mktemp -d /tmp/kokanee-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$MIRROR"
# Security and point-release updates, like the official image's sources.
cat > "$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
# What the official debian images do to stay small: no caches of package lists or archives.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
tar -C "$root" --numeric-owner -c . | "$DOCKER" import \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' - "$IMAGE"
echo "built base image $IMAGE"
