"""A stopping `RefereeWorker` leaves at once (real redis-server): RQ's command channel, and
RQ's reconnect loop when Redis is down.

RQ reads its pub/sub channel with a 60 s timeout, and redis-py 8 joins that thread without a
bound on teardown: when the thread had already seen its unsubscription, a stopping worker sat
out the full 60 s (a race that ended a CI run). The test sets up that race on purpose.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from referee.service.queue_backend import SERIALIZER
from referee.service.rq_worker import RefereeWorker
from tests.service.queue.conftest import WorkerProcs
from tests.service.queue.test_redis_restart import RedisServer

BOUND_S = 10.0
"""Well above the worker's read bound (1 s), well below RQ's 60 s."""


def test_unsubscribe_after_the_channel_went_quiet_is_prompt(redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    worker = RefereeWorker(["referee-teardown"], connection=connection, serializer=SERIALIZER)
    worker.subscribe()
    pubsub = worker.pubsub
    assert pubsub is not None
    pubsub.unsubscribe()
    deadline = time.monotonic() + 5
    while pubsub.subscribed and time.monotonic() < deadline:  # the thread read the reply
        time.sleep(0.05)
    time.sleep(0.2)  # and went back to waiting for a subscription
    started = time.monotonic()
    worker.unsubscribe()
    elapsed = time.monotonic() - started
    connection.close()
    assert elapsed < BOUND_S


def test_sigterm_while_redis_is_down_ends_an_idle_worker(
    tmp_path: Path, redis_server_binary: str
) -> None:
    # RQ's idle loop retries an unreachable Redis forever without looking at a stop request.
    server = RedisServer(redis_server_binary, tmp_path, persistent=False)
    server.start()
    workers = WorkerProcs(server.url, "referee-outage-stop")
    try:
        workers.start(1)
        workers.wait_for(1)
        server.stop()
        time.sleep(3)  # the worker is now in RQ's reconnect loop
        [proc] = workers.procs
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not exit within {BOUND_S:g}s of SIGTERM")
        assert time.monotonic() - started < BOUND_S
    finally:
        workers.stop()
        server.kill()
