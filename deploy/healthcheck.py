#!/usr/bin/env python3
"""`referee-healthcheck [--live | --worker]`: exit 0 when this container's Referee is healthy.

- default: `GET /readyz` of the API in this container (Redis answers and at least one worker is
  registered); sends the first of `REFEREE_API_KEYS` as a bearer token, since /readyz needs
  one when keys are set;
- `--live`: `GET /healthz` (the API process answers);
- `--worker`: the `referee worker` of this container is registered in Redis with a live
  heartbeat (an RQ worker key of the set `rq:workers`, which expires when the worker stops
  heart-beating, names this hostname). Redis unreachable counts as healthy: an outage is not
  the worker's fault and the worker waits it out, so restarting it would only lose work.

For the image's HEALTHCHECK, compose healthchecks and Kubernetes exec probes.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.error
import urllib.request


def check_api(path: str) -> int:
    port = os.environ.get("REFEREE_PORT", "8000")
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    raw_keys = os.environ.get("REFEREE_API_KEYS", "").strip()
    if raw_keys:
        try:
            keys = json.loads(raw_keys)
        except ValueError:
            keys = [raw_keys]
        if isinstance(keys, list) and keys:
            request.add_header("Authorization", f"Bearer {keys[0]}")
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            print(response.read(200).decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as exc:
        print(f"{path}: HTTP {exc.code}: {exc.read(300).decode(errors='replace')}",
              file=sys.stderr)
    except OSError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
    return 1


def check_worker() -> int:
    import redis

    url = os.environ.get("REFEREE_REDIS_URL", "redis://127.0.0.1:6379/0")
    me = socket.gethostname()
    try:
        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        # RQ lists its workers' keys in the set rq:workers; a key expires when its worker
        # stops heart-beating (the set may still name it until RQ's next cleanup).
        for key in client.smembers("rq:workers"):
            if client.hget(key, "hostname") == me.encode():
                print(f"worker {key!r} on {me} is registered")
                return 0
    except redis.ConnectionError as exc:
        print(f"redis unreachable ({exc}); not the worker's fault", file=sys.stderr)
        return 0
    except redis.RedisError as exc:
        print(f"redis error: {exc}", file=sys.stderr)
        return 1
    print(f"no live referee worker registered for host {me}", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    if "--worker" in argv:
        return check_worker()
    return check_api("/healthz" if "--live" in argv else "/readyz")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
