#!/usr/bin/env python3
"""`referee-healthcheck [--live]`: exit 0 when the API in this container answers.

Default: `GET /readyz` (the backend can take work: Redis answers and at least one worker is
registered); `--live`: `GET /healthz` (the process answers). Sends the first of
`REFEREE_API_KEYS` as a bearer token, since /readyz needs one when keys are set. Standard
library only: it runs as the image's HEALTHCHECK, a compose healthcheck or a Kubernetes exec
probe.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    path = "/healthz" if "--live" in argv else "/readyz"
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


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
