"""A background reader of `transactions.scored`: every message goes to a handler, in order."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, Message

from fraudstream.common import names

logger = logging.getLogger(__name__)


class ScoredTail:
    """Reads `transactions.scored` with `consumer` in its own thread until stopped.

    Consumer errors other than end-of-partition are logged at `error_level` (the chaos
    experiment kills the broker on purpose, so there they are only debug lines).
    """

    def __init__(
        self,
        consumer: Consumer,
        on_message: Callable[[Message], None],
        name: str,
        error_level: int = logging.WARNING,
    ) -> None:
        self._consumer = consumer
        self._on_message = on_message
        self._error_level = error_level
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._consumer.subscribe([names.TRANSACTIONS_SCORED])
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for message in self._consumer.consume(num_messages=2000, timeout=0.2):
                    error = message.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            logger.log(self._error_level, "scored topic: %s", error)
                        continue
                    self._on_message(message)
        finally:
            self._consumer.close()
