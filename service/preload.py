"""Imported once by the executor's forkserver: warms the scorers that workers inherit.

A failure here must not take the forkserver down; workers then warm up lazily instead.
"""

import contextlib

from referee.service.worker import warm_up

with contextlib.suppress(Exception):
    warm_up()
