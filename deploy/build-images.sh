#!/usr/bin/env bash
# Build the images Referee runs: the offline base images when they are missing, then the
# sandbox image from sandbox/Dockerfile and the service images from deploy/*.Dockerfile (the
# tags docker-compose.yml uses). Idempotent; safe to run on every CI run.
#
#   deploy/build-images.sh [--sandbox-only]
#
# Tags (environment overrides): REFEREE_SANDBOX_IMAGE (referee-sandbox:latest),
# REFEREE_API_IMAGE (referee-api:latest), REFEREE_WORKER_IMAGE (referee-worker:latest),
# REFEREE_REDIS_IMAGE (referee-redis:latest). Bases: REFEREE_SANDBOX_BASE_IMAGE / REFEREE_BASE_IMAGE
# (python:3.11-slim-bookworm), REFEREE_REDIS_BASE_IMAGE (debian:bookworm-slim).
# Behind a TLS-intercepting proxy, pip inside the build must trust its CA: the certificates in
# /usr/local/share/ca-certificates (or REFEREE_EXTRA_CA_CERTS, PEM text) are passed as the
# build argument EXTRA_CA_CERTS; they stay in the builder stage.
set -euo pipefail
cd "$(dirname "$0")/.."

sandbox_only=0
if [[ "${1:-}" == "--sandbox-only" ]]; then sandbox_only=1; fi

base="${REFEREE_SANDBOX_BASE_IMAGE:-${REFEREE_BASE_IMAGE:-python:3.11-slim-bookworm}}"
sandbox="${REFEREE_SANDBOX_IMAGE:-referee-sandbox:latest}"

deploy/build-base-image.sh "$base"
echo "building $sandbox"
docker build --quiet --build-arg "BASE_IMAGE=$base" -t "$sandbox" sandbox >/dev/null
echo "sandbox image $sandbox built"
if [[ $sandbox_only -eq 1 ]]; then exit 0; fi

redis_base="${REFEREE_REDIS_BASE_IMAGE:-debian:bookworm-slim}"
api="${REFEREE_API_IMAGE:-referee-api:latest}"
worker="${REFEREE_WORKER_IMAGE:-referee-worker:latest}"
redis="${REFEREE_REDIS_IMAGE:-referee-redis:latest}"
extra_ca="${REFEREE_EXTRA_CA_CERTS:-}"
if [[ -z "$extra_ca" ]] && compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    extra_ca="$(cat /usr/local/share/ca-certificates/*.crt)"
fi

# The legacy builder prints a deprecation notice on stderr at every build: keep only errors.
build() {
    local out
    if ! out="$(docker build --quiet --force-rm "$@" 2>&1)"; then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

deploy/build-base-image.sh "$redis_base"
echo "building $redis"
build --build-arg "BASE_IMAGE=$redis_base" -t "$redis" -f deploy/redis.Dockerfile deploy
echo "building $worker and $api (deploy/referee.Dockerfile)"
for target in worker api; do
    tag="$worker"
    if [[ $target == api ]]; then tag="$api"; fi
    build --build-arg "BASE_IMAGE=$base" --build-arg "EXTRA_CA_CERTS=$extra_ca" \
        --target "$target" -t "$tag" -f deploy/referee.Dockerfile .
done
echo "service images $redis $worker $api built"
