#!/usr/bin/env bash
# For maintainers: the next upstream break, before users meet it. Resolves the newest versions
# pyproject.toml's ranges allow (not the lock), prints which packages differ from the lock,
# installs them (without torch and the trainer stack) into a scratch virtualenv, and runs mypy
# and the tests that need neither Docker nor torch, the RQ-internals and queue tests included
# (real redis-server). Exit status: that of the first failing step.
#
#   make check-latest            (or deploy/check-latest.sh)
#
# Needs the dev install (for uv) and redis-server (deploy/host-deps.sh queue installs it).
# Left out: the GRPO trainer and its tests (torch, transformers, trl: `make lock`, then
# `make test`, checks those), and every Docker test.
set -euo pipefail
cd "$(dirname "$0")/.."

uv="${UV:-.venv/bin/uv}"
scratch="${CHECK_LATEST_DIR:-.check-latest}"
rm -rf "$scratch"
mkdir -p "$scratch"

# What the dev set would resolve to today, against what the lock holds.
"$uv" pip compile pyproject.toml --extra dev --universal --python-version 3.11 --quiet \
    --no-header --no-annotate -o "$scratch/latest.txt"
python3 - "$scratch/latest.txt" requirements/dev.txt <<'PY'
import re
import sys

def pins(path):
    found = {}
    for line in open(path, encoding="utf-8"):
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)", line)
        if match:
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return found

latest, locked = pins(sys.argv[1]), pins(sys.argv[2])
changed = sorted(n for n in latest.keys() | locked.keys() if latest.get(n) != locked.get(n))
print(f"check-latest: {len(changed)} packages differ from requirements/dev.txt")
for name in changed:
    print(f"  {name:32} lock {locked.get(name, '-'):14} newest {latest.get(name, '-')}")
PY

# The newest server + client set and the tools, without torch & co.
"$uv" venv --quiet --python "${PYTHON:-python3}" "$scratch/venv"
py="$scratch/venv/bin/python"
"$uv" pip compile pyproject.toml --extra server --extra client --python-version 3.11 --quiet \
    --no-header --no-annotate -o "$scratch/server.txt"
grep -E '^(pytest|pytest-timeout|mypy|types-pyyaml|schemathesis|kubernetes-validate|pyyaml)==' \
    "$scratch/latest.txt" > "$scratch/tools.txt"
"$uv" pip install --quiet --python "$py" -r "$scratch/server.txt" -r "$scratch/tools.txt"
"$uv" pip install --quiet --python "$py" --no-deps -e .
echo "check-latest: installed rq $("$py" -c 'import rq; print(rq.__version__)')," \
    "redis $("$py" -c 'import redis; print(redis.__version__)')," \
    "fastapi $("$py" -c 'import fastapi; print(fastapi.__version__)')"

echo "check-latest: mypy (all but the GRPO trainer)"
mkdir -p "$scratch/typecheck/referee"
for p in verifiers service sandbox trainer_client; do
    ln -sfn "$PWD/$p" "$scratch/typecheck/referee/$p"
done
# The trainer modules imported lazily are followed silently: torch is not installed here.
MYPYPATH="$scratch/typecheck" "$scratch/venv/bin/mypy" --cache-dir "$scratch/mypy-cache" \
    --follow-imports silent \
    -p referee.verifiers -p referee.service -p referee.sandbox \
    -m referee.trainer_client.client -m referee.trainer_client.batching \
    -m referee.trainer_client.retry -m referee.trainer_client.errors \
    -p referee.trainer_client.adapters

echo "check-latest: tests without Docker or torch"
# An unreachable engine makes the Docker tests skip (never under CI=true, where they fail).
CI= DOCKER_HOST=unix:///nonexistent/docker.sock "$py" -m pytest -q -p no:cacheprovider \
    tests/verifiers tests/service tests/sandbox tests/deploy \
    tests/trainer_client/test_client_units.py tests/trainer_client/test_client_http.py \
    tests/trainer_client/test_client_service.py tests/trainer_client/test_verl_adapter.py
