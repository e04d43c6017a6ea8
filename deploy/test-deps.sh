#!/usr/bin/env bash
# What `make test` needs besides the Python packages, installed when missing, the same way on
# a developer's machine and in CI: redis-server (the queue tests start their own), a Compose
# (the end-to-end stack test; Debian's docker-compose when neither `docker compose` nor
# `docker-compose` answers), and the Docker images (deploy/build-images.sh: offline base
# images from Debian packages, the sandbox, api, worker and redis images; cached layers make a
# second run take seconds).
#
#   deploy/test-deps.sh [--no-images]
#
# Without Docker the images are skipped and the Docker tests skip, except under CI=true,
# where a missing engine fails here. Installing needs root (apt-get); otherwise the script
# stops at once and prints the command to run.
set -euo pipefail
cd "$(dirname "$0")/.."
images=1
if [[ "${1:-}" == "--no-images" ]]; then images=0; fi

missing=()
command -v redis-server >/dev/null 2>&1 || [[ -x /usr/bin/redis-server ]] || missing+=(redis-server)

have_docker=0
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    have_docker=1
    if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
        missing+=(docker-compose)
    fi
elif [[ "${CI:-}" == "true" ]]; then
    echo "test-deps: CI needs a running Docker engine (docker info failed)" >&2
    exit 1
else
    echo "test-deps: no Docker engine: the sandbox and stack tests will skip"
fi

if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "test-deps: missing ${missing[*]}; install them, then run make test again:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "test-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ $have_docker -eq 1 && $images -eq 1 ]]; then
    deploy/build-images.sh
fi
