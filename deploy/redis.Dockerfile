# Redis for the queue: Debian's redis-server (7.0 on bookworm) on a Debian base, as the
# non-root user `redis`, data (AOF) under the /data volume. BASE_IMAGE defaults to the public
# debian:bookworm-slim; on an engine with no registry, deploy/build-base-image.sh builds a
# stand-in from Debian packages under the same tag. Users with a registry may use the official
# redis:7 image instead (docker-compose.yml: REFEREE_REDIS_IMAGE) with the same command line.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        redis-server >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
    && mkdir -p /data \
    && chown redis:redis /data
VOLUME /data
WORKDIR /data
USER redis
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --retries=5 CMD ["redis-cli", "ping"]
# appendonly: every write is logged (fsync every second) and replayed on restart, so queued
# jobs and stored results survive a restart. protected-mode off: reachable by the api and the
# workers on the private network only (never publish this port without a password).
CMD ["redis-server", "--dir", "/data", "--appendonly", "yes", "--appendfsync", "everysec", \
     "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""]
