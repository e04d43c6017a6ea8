"""Can this host run sandboxes right now? The Docker engine answers and the sandbox image is
there. Used by `/readyz` (embedded backend) and reported by every `referee worker` (queue).

The answer is cached for `CACHE_S`: readiness probes come every few seconds and a Docker round
trip is not free. The cache is a small dict of our own rather than a `functools` cache because
its entries expire and are refreshed in the background. Left out: starting a container (the
pool's refill does that, and counts its failures in `/metrics` as
`referee_sandbox_failed_starts`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

CACHE_S = 10.0

_lock = threading.Lock()
_cache: dict[str, tuple[float, bool, str]] = {}
_refreshing: set[str] = set()


def _probe(image: str) -> tuple[bool, str]:
    import docker
    from docker.errors import ImageNotFound

    try:
        client: Any = docker.from_env(timeout=5)
    except Exception as exc:  # no engine, no socket, bad DOCKER_HOST
        return False, f"docker engine unreachable: {exc}"
    try:
        client.ping()
        client.images.get(image)
    except ImageNotFound:
        return False, f"sandbox image {image!r} is missing (make images)"
    except Exception as exc:
        return False, f"docker engine unreachable: {exc}"
    finally:
        client.close()
    return True, f"sandbox image {image!r} ready"


def _refresh(image: str) -> tuple[bool, str]:
    ok, reason = _probe(image)
    with _lock:
        _cache[image] = (time.monotonic(), ok, reason)
        _refreshing.discard(image)
    return ok, reason


def sandbox_status(image: str) -> tuple[bool, str]:
    """(usable, a short reason). The first call probes Docker; later ones answer from the
    cache and, once it is `CACHE_S` old, refresh it in a thread, so a hung engine never
    blocks the caller (an event loop) for more than that first probe."""
    with _lock:
        cached = _cache.get(image)
        stale = cached is None or time.monotonic() - cached[0] >= CACHE_S
        start = stale and cached is not None and image not in _refreshing
        if start:
            _refreshing.add(image)
    if cached is None:
        return _refresh(image)
    if start:
        threading.Thread(target=_refresh, args=(image,), name="sandbox-health", daemon=True).start()
    return cached[1], cached[2]
