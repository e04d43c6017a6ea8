"""A stopping `RefereeWorker` leaves RQ's command channel at once (real redis-server).

RQ reads its pub/sub channel with a 60 s timeout, and redis-py 8 joins that thread without a
bound on teardown: when the thread had already seen its unsubscription, a stopping worker sat
out the full 60 s (a race that ended a CI run). The test sets up that race on purpose.
"""

from __future__ import annotations

import time

import redis

from referee.service.queue_backend import SERIALIZER
from referee.service.rq_worker import RefereeWorker

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
