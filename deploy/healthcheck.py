#!/usr/bin/env python3
"""`referee-healthcheck [--live | --worker]`: exit 0 when this container's Referee is healthy.

- default: `GET /readyz` of the API in this container (Redis answers and at least one worker is
  registered); sends the first key of `REFEREE_API_KEY` as a bearer token, since /readyz
  needs one when keys are set;
- `--live`: `GET /healthz` (the API process answers and can still score: 503, so unhealthy,
  once an embedded executor stopped for good; over the queue the API runs no executor);
- `--worker`: the `referee worker` of this container is registered in Redis with a live
  heartbeat (an RQ worker key of the set `rq:workers`, which expires when the worker stops
  heart-beating, names this hostname). Redis unreachable or not answering in time counts as
  healthy: an outage is not the worker's fault and the worker waits it out, so restarting it
  would only lose work. A worker whose executor stopped for good exits by itself (code 3),
  which deregisters it.

Reads its configuration (port, keys, Redis URL) through Referee's `Settings`, like the service.

For the image's HEALTHCHECK, compose healthchecks and Kubernetes exec probes.
"""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.request

from referee.service.settings import Settings


def check_api(settings: Settings, path: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{settings.port}{path}")
    if settings.api_keys:
        request.add_header("Authorization", f"Bearer {settings.api_keys[0]}")
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            print(response.read(200).decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as exc:
        print(f"{path}: HTTP {exc.code}: {exc.read(300).decode(errors='replace')}", file=sys.stderr)
    except OSError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
    return 1


def check_worker(settings: Settings) -> int:
    import redis

    url = settings.queue_redis_url
    me = socket.gethostname()
    try:
        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        # RQ lists its workers' keys in the set rq:workers; a key expires when its worker
        # stops heart-beating (the set may still name it until RQ's next cleanup).
        for key in client.smembers("rq:workers"):
            if client.hget(key, "hostname") == me.encode():
                print(f"worker {key!r} on {me} is registered")
                return 0
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        print(
            f"redis unreachable or not answering ({exc}); not the worker's fault", file=sys.stderr
        )
        return 0
    except redis.RedisError as exc:
        print(f"redis error: {exc}", file=sys.stderr)
        return 1
    print(f"no live referee worker registered for host {me}", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    settings = Settings()
    if "--worker" in argv:
        return check_worker(settings)
    return check_api(settings, "/healthz" if "--live" in argv else "/readyz")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
