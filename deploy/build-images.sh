#!/usr/bin/env bash
# Build the images Referee runs: the offline base image when it is missing, then the sandbox
# image from sandbox/Dockerfile. Idempotent; safe to run on every CI run.
#
#   deploy/build-images.sh        (REFEREE_SANDBOX_IMAGE overrides the sandbox tag)
set -euo pipefail
cd "$(dirname "$0")/.."

base="${REFEREE_SANDBOX_BASE_IMAGE:-python:3.11-slim-bookworm}"
sandbox="${REFEREE_SANDBOX_IMAGE:-referee-sandbox:latest}"

deploy/build-base-image.sh "$base"
echo "building $sandbox"
docker build --quiet --build-arg "BASE_IMAGE=$base" -t "$sandbox" sandbox >/dev/null
echo "sandbox image $sandbox built"
