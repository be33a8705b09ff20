"""Replacing a Kafka consumer that lost its partitions and does not get them back.

When the broker goes away for longer than the session timeout, the bridge's partitions are
lost. When it comes back, librdkafka normally rejoins the group by itself; but it can stay
stuck on the group coordinator it had before (requests queued to it and timing out, no
rejoin: seen here after a broker restart under load, and reported upstream, e.g.
confluentinc/librdkafka#3082 and #3396). The bridge then holds nothing, consumes nothing, and
would stay so until restarted. Or a commit sent before the loss reaches the broker after the
consumer rejoined under a new member id: the broker fences it with its own static instance id,
and librdkafka makes that fatal. A fresh consumer with the same static member id joins at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import Consumer

logger = logging.getLogger(__name__)


class Rejoin:
    """Says when the consumer should be replaced: `after_seconds` after it lost its last
    partition without getting one back, then again every `after_seconds` until it has one."""

    def __init__(self, new_consumer: Callable[[], Consumer], after_seconds: float) -> None:
        self.new_consumer = new_consumer
        self._after = after_seconds
        self._lost_at: float | None = None

    @property
    def lost(self) -> bool:
        """Whether the consumer lost its partitions and has none back yet."""
        return self._lost_at is not None

    def lost_all(self) -> None:
        """The consumer holds no partition any more, and did not give them up by choice."""
        self._lost_at = time.monotonic()

    def assigned(self) -> None:
        self._lost_at = None

    def replace(self, why: str) -> Consumer:
        """A new consumer to replace the one in use (not subscribed yet; `retire` the old)."""
        logger.warning("%s; replacing the Kafka consumer", why)
        return self.new_consumer()

    def due(self) -> bool:
        if self._lost_at is None or time.monotonic() - self._lost_at < self._after:
            return False
        self._lost_at = time.monotonic()  # the next try, if this consumer gets nothing either
        return True


# How long the replacement waits for the old consumer to close: its queued requests to the
# old coordinator must not rejoin the group after the new consumer (the same static member id:
# the broker would fence the new one). A close stuck longer is left to finish on its own.
RETIRE_SECONDS = 10.0


def retire(consumer: Consumer, wait: float = RETIRE_SECONDS) -> None:
    """Close a replaced consumer, waiting at most `wait` seconds: closing one whose coordinator
    is gone can wait for its requests to time out, and the bridge must not wait for ever."""
    started = time.monotonic()

    def close() -> None:
        try:
            consumer.close()
        except Exception as exc:  # it is being dropped; nothing to save
            logger.info("replaced consumer closed with %s", exc)

    closing = threading.Thread(target=close, name="retired-consumer", daemon=True)
    closing.start()
    closing.join(wait)
    if closing.is_alive():
        logger.warning("the replaced consumer did not close within %.0fs; going on", wait)
    else:
        logger.info("replaced consumer closed in %.1fs", time.monotonic() - started)
