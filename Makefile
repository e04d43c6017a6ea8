# Referee developer commands. Everything installs into ./.venv from PyPI; nothing else is needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
IN ?= examples/batch.jsonl
PACKAGES := verifiers service sandbox trainer_client

.PHONY: install lock check-latest images up down serve score test test-fast lint format typecheck check settings-docs corpus-table bench clean

# Installs come from the committed lock (requirements/*.txt, every file hash-checked), then the
# project itself without its dependencies: what runs here is what CI and the images run.
$(STAMP): pyproject.toml requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Re-resolve the lock from pyproject.toml (newest versions its ranges allow, hashes for every
# platform, Python 3.11+). Run it in the commit that changes a dependency.
UV := $(VENV)/bin/uv
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet --no-header
lock: $(STAMP)
	$(UV) pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements/dev.txt
	$(UV) pip compile pyproject.toml --extra server $(LOCK_FLAGS) -c requirements/dev.txt -o requirements/server.txt
	$(UV) pip compile pyproject.toml --extra train $(LOCK_FLAGS) -c requirements/dev.txt -o requirements/train.txt

# Maintainers: the newest versions the ranges allow, in a scratch venv (.check-latest/): what
# differs from the lock, then mypy and the tests that need neither Docker nor torch.
check-latest: $(STAMP)
	deploy/host-deps.sh queue
	deploy/check-latest.sh

# Docker images: the offline base images (from Debian packages) when missing, then the sandbox
# image and the service images (api, worker, redis) of docker-compose.yml.
images:
	deploy/build-images.sh

# The whole stack in Docker (Redis, API on 127.0.0.1:8000, WORKERS workers, sandbox image):
# builds the images offline when needed, starts docker-compose.yml, waits until it is ready.
WORKERS ?= 1
up:
	deploy/stack.sh up --scale worker=$(WORKERS)

down:
	deploy/stack.sh down

# Quickstart: run the HTTP service on 127.0.0.1:8000 (embedded executor; REFEREE_* settings).
serve: $(STAMP)
	$(VENV)/bin/referee serve

# Score a JSONL batch with the embedded executor (IN=your.jsonl to change it).
score: $(STAMP)
	$(VENV)/bin/referee score $(IN)

# Every test. CI runs exactly this. Installs what the tests need first, as CI does
# (deploy/host-deps.sh: redis-server, docker-compose when missing, the Docker images).
test: $(STAMP)
	deploy/host-deps.sh test
	$(PY) -m pytest

# The tier that needs no Docker, no redis-server, no torch and no patience (markers in
# pyproject.toml, applied by tests/conftest.py): about 2.5 minutes instead of about 15, and
# nothing to install beyond `make install`.
FAST := not docker and not redis and not torch and not slow
test-fast: $(STAMP)
	$(PY) -m pytest -m "$(FAST)"

# Lint and formatting are both enforced; `make format` rewrites the tree the way lint wants it.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .

# The settings table of docs/deployment.md, generated from Settings (a test fails when stale).
settings-docs: $(STAMP)
	$(PY) -m referee.service.settings_docs docs/deployment.md

# The math scorer's false-positive/false-negative table per family, from the labelled corpus
# (tests/verifiers/math_corpus/), written into README.md; `--failures` lists the wrong cases.
corpus-table: $(STAMP)
	$(PY) -m tests.verifiers.math_corpus_report --write README.md

# mypy cannot follow setuptools' editable finder for the package-dir mapping, so it checks a
# symlink tree that spells the installed layout (referee/<package> -> ../../<package>).
typecheck: $(STAMP)
	mkdir -p .typecheck/referee
	for p in $(PACKAGES); do ln -sfn ../../$$p .typecheck/referee/$$p; done
	MYPYPATH=.typecheck $(VENV)/bin/mypy $(foreach p,$(PACKAGES),-p referee.$(p))

check: lint typecheck test

bench: $(STAMP)
	$(PY) bench/math_throughput.py

clean:
	rm -rf $(VENV) .typecheck .check-latest build *.egg-info .mypy_cache .ruff_cache .pytest_cache
