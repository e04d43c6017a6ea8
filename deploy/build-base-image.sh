#!/usr/bin/env bash
# Build Referee's base image from Debian packages and tag it with the public name our
# Dockerfiles default to, so that the same Dockerfiles build on a Docker engine that cannot
# pull (no registry). Skips the build when the tag already exists (pass --force to rebuild).
#
#   deploy/build-base-image.sh [--force] [TAG]     (default TAG: python:3.11-slim-bookworm)
#
# The image is Debian bookworm (minbase) with its python3 (3.11) and nothing else; it stands
# in for the official python:3.11-slim-bookworm, which users with a registry pull instead.
# A TAG naming a plain Debian image (debian:*, e.g. debian:bookworm-slim, the base of
# deploy/redis.Dockerfile) gets the same minbase without python3.
# Needs root for apt-get when mmdebstrap is missing. DEBIAN_MIRROR overrides the mirror.
set -euo pipefail

force=0
if [[ "${1:-}" == "--force" ]]; then force=1; shift; fi
tag="${1:-python:3.11-slim-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [[ $force -eq 0 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
    echo "base image $tag already present"
    exit 0
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
    echo "installing mmdebstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
fi

include=(--include=python3)
cmd='CMD ["python3"]'
if [[ "$tag" == debian:* ]]; then include=(); cmd='CMD ["bash"]'; fi

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
echo "building $tag from Debian bookworm packages ($mirror)"
mmdebstrap --quiet --variant=minbase "${include[@]}" \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm "$workdir/rootfs.tar" "$mirror"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "$cmd" \
    --change 'LABEL org.referee.base="debian-bookworm-mmdebstrap"' \
    "$workdir/rootfs.tar" "$tag" >/dev/null
echo "base image $tag built"
