"""The label publisher against a real broker: its cursor is saved at most once a second."""

from __future__ import annotations

import time

import pytest

from fraudstream.feedback.convert import encode_label
from fraudstream.feedback.domain import AlertKind, AlertRecord, Verdict
from fraudstream.feedback.labels import LabelLog
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.publisher import LabelPublisher
from fraudstream.feedback.review_queue import ReviewQueue
from fraudstream.feedback.store import FeedbackStore
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


class CountingStore(FeedbackStore):
    """The real SQLite store, counting its cursor commits (each one an fsync)."""

    cursor_saves = 0

    def set_cursor(self, name: str, position: int, now: float) -> None:
        self.cursor_saves += 1
        super().set_cursor(name, position, now)


def test_a_burst_of_labels_moves_the_cursor_in_few_saves(
    tmp_path, kafka_bootstrap, kafka_topic_factory
):
    store = CountingStore(tmp_path / "feedback.db")
    metrics = FeedbackMetrics()
    log = LabelLog(store, metrics)
    ReviewQueue(store, log, metrics, lease_seconds=60.0).add_alerts(
        [AlertRecord(f"e-{i}", AlertKind.ALERT, 0.9, b"") for i in range(40)]
    )
    cursor = f"publisher:{(topic := kafka_topic_factory())}"
    publisher = LabelPublisher(
        log, store, metrics, bootstrap=kafka_bootstrap, topic=topic, encode=encode_label
    )
    publisher.start()
    try:
        started = time.monotonic()
        for i in range(40):  # one label every 25 ms: a second of labeling
            log.record(f"e-{i}", Verdict.FRAUD, "alice", "")
            time.sleep(0.025)
        wait_for(lambda: publisher.published_position == 40, what="all 40 labels confirmed")
        # Durable within a second of the last confirmation, in a few commits, not forty.
        wait_for(lambda: store.get_cursor(cursor) == 40, timeout=3.0, what="the cursor saved")
        elapsed = time.monotonic() - started
        assert store.cursor_saves <= elapsed + 2, (store.cursor_saves, elapsed)
    finally:
        log.stop()
        publisher.stop(flush_timeout=5.0)
        store.close()
    reopened = FeedbackStore(tmp_path / "feedback.db")
    assert reopened.get_cursor(cursor) == 40
    reopened.close()
