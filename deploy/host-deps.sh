#!/usr/bin/env bash
# What Referee's commands need on this host besides the Python packages, installed when missing,
# the same way on a developer's machine and in CI:
#
#   deploy/host-deps.sh test    for `make test`: redis-server (the queue tests start their own),
#                               a Compose (the stack test), and the Docker images
#                               (deploy/build-images.sh; cached layers make a rerun take seconds)
#   deploy/host-deps.sh stack   for `make up`: a Compose (the images are built by stack.sh)
#   deploy/host-deps.sh queue   for `make check-latest`: redis-server
#
# The Compose installed is Debian's docker-compose, when neither `docker compose` nor
# `docker-compose` answers. Without Docker the images are skipped and the Docker tests skip,
# except under CI=true, where a missing engine fails here. Installing needs root (apt-get);
# otherwise the script stops at once and prints the command to run.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-test}"
case "$mode" in
    test) want_redis=1 want_compose=1 images=1 ;;
    stack) want_redis=0 want_compose=1 images=0 ;;
    queue) want_redis=1 want_compose=0 images=0 ;;
    *) echo "usage: deploy/host-deps.sh [test|stack|queue]" >&2; exit 2 ;;
esac

missing=()
if [[ $want_redis -eq 1 ]]; then
    command -v redis-server >/dev/null 2>&1 || [[ -x /usr/bin/redis-server ]] \
        || missing+=(redis-server)
fi

have_docker=0
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    have_docker=1
    if [[ $want_compose -eq 1 ]] && ! docker compose version >/dev/null 2>&1 \
            && ! command -v docker-compose >/dev/null 2>&1; then
        missing+=(docker-compose)
    fi
elif [[ "${CI:-}" == "true" ]]; then
    echo "host-deps: CI needs a running Docker engine (docker info failed)" >&2
    exit 1
elif [[ $mode == stack ]]; then
    echo "host-deps: make up needs a running Docker engine (docker info failed)" >&2
    exit 1
elif [[ $mode == test ]]; then
    echo "host-deps: no Docker engine: the sandbox and stack tests will skip"
fi

if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "host-deps: missing ${missing[*]}; install them, then run the command again:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "host-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ $have_docker -eq 1 && $images -eq 1 ]]; then
    deploy/build-images.sh
fi
