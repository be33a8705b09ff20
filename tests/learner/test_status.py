"""GetLearnerStatus never hangs behind a batch being applied."""

from __future__ import annotations

import threading
import time

from fraudstream.learner.learner import STATUS_WAIT_SECONDS


def test_status_while_a_batch_holds_the_learner_is_the_last_one_taken(make_learner, drift_stream):
    under_test = make_learner()
    learner = under_test.learner
    for batch in drift_stream.batches(64)[:3]:
        under_test.feed(batch)
    before = learner.status()
    assert before.label_position > 0

    holding, release = threading.Event(), threading.Event()

    def long_batch() -> None:  # what a slow batch does: holds the learner's lock
        with learner._lock:
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=long_batch)
    worker.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        during = learner.status()
        waited = time.monotonic() - started
    finally:
        release.set()
        worker.join(5)
    assert during == before
    assert STATUS_WAIT_SECONDS <= waited < STATUS_WAIT_SECONDS + 2.0
    assert learner.status() == before  # and the real one again once the batch is done
