# Referee's service images, from one multi-stage file:
#   --target api      `referee serve` on 0.0.0.0:8000 (tag referee-api)
#   --target worker   `referee worker`, which runs sandbox containers through the host's Docker
#                     engine (mount /var/run/docker.sock; tag referee-worker)
# Both run as the non-root user `referee` (uid 10002) from a virtualenv holding only
# the locked `server` set (requirements/server.txt) and the project, installed `--no-deps`
# (no trainer, no dev tools). BASE_IMAGE defaults to the public Python image; on an
# engine with no registry, deploy/build-base-image.sh builds a stand-in from Debian packages
# under the same tag (Debian's python3, which has no ensurepip: the builder installs
# python3-venv then). Build context: the repository root (see .dockerignore).
# Plain `docker build` features only (no BuildKit needed).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
# PEM certificates to trust besides pip's own bundle, for builds behind a TLS-intercepting
# proxy (deploy/build-images.sh passes the host's /usr/local/share/ca-certificates). Public
# certificates only; they stay in this stage, never in the runtime image.
ARG EXTRA_CA_CERTS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
        apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            python3-venv >/dev/null \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/referee \
    && bundle="$(/opt/referee/bin/python3 -c 'import pip._vendor.certifi as c; print(c.where())')" \
    && cat "$bundle" > /etc/pip-ca.pem \
    && printf '%s\n' "$EXTRA_CA_CERTS" >> /etc/pip-ca.pem
ENV PIP_CERT=/etc/pip-ca.pem
WORKDIR /src
# Dependencies first, in their own layer, from the committed lock (exact versions, hashes
# checked), so editing the code does not reinstall sympy & co. and every image holds the
# versions CI tested.
COPY requirements/server.txt /tmp/requirements.txt
RUN /opt/referee/bin/pip install --quiet --require-hashes -r /tmp/requirements.txt
COPY pyproject.toml ./
COPY README.md ./
COPY verifiers verifiers
COPY service service
COPY sandbox sandbox
COPY trainer_client trainer_client
COPY deploy/healthcheck.py /opt/referee/bin/referee-healthcheck
RUN /opt/referee/bin/pip install --quiet --no-deps --force-reinstall . \
    && /opt/referee/bin/pip uninstall --quiet -y pip setuptools wheel \
    && chmod 0755 /opt/referee/bin/referee-healthcheck

FROM ${BASE_IMAGE} AS runtime
RUN useradd --uid 10002 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin referee
COPY --from=builder /opt/referee /opt/referee
ENV PATH=/opt/referee/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /tmp
USER 10002:10002

FROM runtime AS worker
LABEL org.opencontainers.image.title="referee-worker"
# Needs the host's Docker engine for code items: -v /var/run/docker.sock:/var/run/docker.sock
# and --group-add <the socket's group id>. With the socket, this container is root on its host.
CMD ["referee", "worker"]

FROM runtime AS api
LABEL org.opencontainers.image.title="referee-api"
ENV REFEREE_HOST=0.0.0.0 \
    REFEREE_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["referee-healthcheck"]
CMD ["referee", "serve"]
