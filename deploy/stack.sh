#!/usr/bin/env bash
# Run docker-compose.yml on this machine: `make up` / `make down` call this.
#
#   deploy/stack.sh up [--scale worker=N ...]   build the images (offline when there is no
#                                               registry; cached after the first time), start
#                                               the stack, wait until the API is ready
#   deploy/stack.sh down [-v]                   stop and remove it (-v: Redis's data too)
#   deploy/stack.sh compose ARGS...             any compose command (ps, logs -f, ...)
#
# Uses `docker compose` (v2) when present, else `docker-compose` (v1.29; `up` installs Debian's
# when neither is there, through deploy/host-deps.sh). Sets, unless already
# set: COMPOSE_PROJECT_NAME=referee, DOCKER_GID (the group of the Docker socket, which the
# worker's non-root user joins). UP_TIMEOUT_S (default 300) bounds the wait for readiness.
set -euo pipefail
cd "$(dirname "$0")/.."

export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-referee}"
socket="${DOCKER_SOCKET:-/var/run/docker.sock}"
if [[ -z "${DOCKER_GID:-}" && -S "$socket" ]]; then
    DOCKER_GID="$(stat -c %g "$socket")"
    export DOCKER_GID
fi

compose() {
    if docker compose version >/dev/null 2>&1; then
        docker compose "$@"
    elif command -v docker-compose >/dev/null 2>&1; then
        docker-compose "$@"
    else
        echo "neither 'docker compose' nor 'docker-compose' is installed" >&2
        return 127
    fi
}

wait_ready() {
    local timeout="${UP_TIMEOUT_S:-300}" deadline id status
    deadline=$(( $(date +%s) + timeout ))
    while true; do
        id="$(compose ps -q api | head -n 1)"
        status=""
        if [[ -n "$id" ]]; then
            status="$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null || true)"
        fi
        if [[ "$status" == healthy ]]; then
            return 0
        fi
        if (( $(date +%s) > deadline )); then
            echo "the API is not ready after ${timeout}s (health: ${status:-no container})" >&2
            compose ps >&2 || true
            compose logs --tail 30 api worker >&2 || true
            return 1
        fi
        sleep 2
    done
}

command="${1:-}"
shift || true
case "$command" in
    up)
        deploy/host-deps.sh stack
        deploy/build-images.sh
        compose up -d --no-build --remove-orphans "$@"
        echo "waiting for the API to be ready (Redis up, a worker registered)"
        wait_ready
        bind="${REFEREE_API_BIND:-127.0.0.1:8000}"
        echo "Referee is up: http://${bind} (project $COMPOSE_PROJECT_NAME; 'make down' stops it)"
        ;;
    down)
        compose down --remove-orphans "$@"
        ;;
    compose)
        compose "$@"
        ;;
    *)
        sed -n '2,12p' "$0" >&2
        exit 2
        ;;
esac
