"""Review sessions and label streams driven directly, without gRPC."""

from __future__ import annotations

import threading
import time

import pytest

from fraudstream.common.errors import InvalidArgument
from fraudstream.feedback.domain import AlertKind, AlertRecord, Verdict, VerdictOutcome
from fraudstream.feedback.labels import LabelLog, LabelStream, StartLabels
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.review_queue import ReviewQueue
from fraudstream.feedback.review_session import (
    CasePushed,
    CaseSkipped,
    ReviewSession,
    StartReview,
    VerdictAcked,
    VerdictGiven,
)
from fraudstream.feedback.store import FeedbackStore


@pytest.fixture
def queue(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    metrics = FeedbackMetrics()
    review = ReviewQueue(store, LabelLog(store, metrics), metrics, lease_seconds=60.0)
    review.add_alerts(
        [
            AlertRecord(f"e-{i}", AlertKind.ALERT, risk, b"")
            for i, risk in enumerate([0.2, 0.9, 0.5])
        ]
    )
    yield review
    review.stop()
    store.close()


def test_a_session_answers_in_order_and_gives_back_what_it_did_not_label(queue, request_stream):
    actions = request_stream(StartReview(analyst="", prefetch=2))
    events = ReviewSession(queue, "alice").run(iter(actions))
    assert [next(events).case.event_id for _ in range(2)] == ["e-1", "e-2"]
    actions.send(VerdictGiven("e-1", Verdict.FRAUD))
    actions.send(CaseSkipped("e-2"))
    assert next(events) == VerdictAcked("e-1", 1, VerdictOutcome.ACCEPTED)
    pushed = next(events)
    assert isinstance(pushed, CasePushed) and pushed.case.event_id == "e-0"
    actions.close()
    assert list(events) == []
    assert queue.store.queue_counts(now=0.0) == (2, 0)  # e-0 released, e-2 skipped


def test_the_first_message_must_be_start(queue):
    with pytest.raises(InvalidArgument):
        next(ReviewSession(queue, "alice").run(iter([CaseSkipped("e-1")])))


def test_a_label_stream_follows_new_labels_until_closed(queue, request_stream):
    labels = queue.labels
    labels.record("e-0", Verdict.LEGIT, "alice", "")
    stream = LabelStream(labels, queue.store, queue.metrics)
    batches = stream.run(iter(request_stream(StartLabels("learner", 0))))
    assert [label.event_id for label in next(batches)] == ["e-0"]
    threading.Timer(0.1, labels.record, ("e-2", Verdict.FRAUD, "bob", "")).start()
    assert [(lb.position, lb.verdict) for lb in next(batches)] == [(2, Verdict.FRAUD)]
    threading.Timer(0.1, stream.close).start()
    assert list(batches) == []


def _sent_the_first_label(queue, request_stream, batch_wait):
    """A label stream with `batch_wait` that has just sent the log's only label (position 1),
    at once: it was there when the stream started."""
    queue.labels.record("e-0", Verdict.LEGIT, "alice", "")
    stream = LabelStream(queue.labels, queue.store, queue.metrics, batch_wait=batch_wait)
    batches = stream.run(iter(request_stream(StartLabels("learner", 0))))
    assert [label.position for label in next(batches)] == [1]
    return stream, batches


def test_labels_recorded_during_the_batch_wait_leave_in_one_batch(queue, request_stream):
    labels = queue.labels
    stream, batches = _sent_the_first_label(queue, request_stream, batch_wait=0.5)
    arrived: list[list[int]] = []
    reader = threading.Thread(
        target=lambda: arrived.append([label.position for label in next(batches)])
    )
    reader.start()
    time.sleep(0.2)  # the stream waits for a new label now
    labels.record("e-1", Verdict.FRAUD, "bob", "")
    time.sleep(0.1)
    labels.record("e-2", Verdict.FRAUD, "bob", "")
    reader.join(timeout=5)
    assert arrived == [[2, 3]]  # one batch, not two
    stream.close()
    assert list(batches) == []


def test_a_label_after_a_quiet_spell_leaves_at_once(queue, request_stream):
    labels = queue.labels
    stream, batches = _sent_the_first_label(queue, request_stream, batch_wait=0.3)
    time.sleep(0.5)  # longer than the batch wait: nothing to gather for
    threading.Timer(0.1, labels.record, ("e-1", Verdict.FRAUD, "bob", "")).start()
    started = time.monotonic()
    assert [label.position for label in next(batches)] == [2]
    assert time.monotonic() - started < 0.1 + 0.2  # not held for another 0.3 s
    stream.close()


def test_a_closed_stream_does_not_sit_out_its_batch_wait(queue, request_stream):
    labels = queue.labels
    stream, batches = _sent_the_first_label(queue, request_stream, batch_wait=30.0)
    ended = threading.Event()
    threading.Thread(target=lambda: (list(batches), ended.set())).start()
    time.sleep(0.1)
    labels.record("e-1", Verdict.LEGIT, "alice", "")  # held: the last batch left just now
    time.sleep(0.1)
    started = time.monotonic()
    stream.close()
    assert ended.wait(5) and time.monotonic() - started < 1.0
