"""LabelConsumer against a scripted FeedbackService: resume, ack after apply, gaps, the gauge.

The feedback side is a small scripted StreamLabels on a real gRPC server; the learner is the
real core on a state directory (the real feedback service is covered by the process test).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from fraudstream.common.grpc_server import build_grpc_service
from fraudstream.learner.consumer import LabelConsumer
from fraudstream.learner.progress import LabelProgress
from fraudstream.v1 import alert_pb2, feedback_service_pb2, feedback_service_pb2_grpc
from tests.waiting import wait_for


class ScriptedFeedback(feedback_service_pb2_grpc.FeedbackServiceServicer):
    """Pushes the label batches put in `outbox`; records each start and every ack."""

    def __init__(self) -> None:
        self.outbox: queue.Queue[list[alert_pb2.LabeledExample]] = queue.Queue()
        self.starts: queue.Queue[feedback_service_pb2.StreamLabelsStart] = queue.Queue()
        self.acks: queue.Queue[int] = queue.Queue()

    def StreamLabels(
        self, request_iterator, context
    ) -> Iterator[feedback_service_pb2.StreamLabelsResponse]:
        context.send_initial_metadata(())  # as the real servicer does
        self.starts.put(next(request_iterator).start)

        def read_acks() -> None:
            try:
                for request in request_iterator:
                    self.acks.put(request.ack.position)
            except grpc.RpcError:
                pass  # the learner went away

        threading.Thread(target=read_acks, daemon=True).start()
        while context.is_active():
            try:
                examples = self.outbox.get(timeout=0.05)
            except queue.Empty:
                continue
            if not context.is_active():
                self.outbox.put(examples)  # taken while the learner hung up: for the next call
                return
            yield feedback_service_pb2.StreamLabelsResponse(examples=examples)


@pytest.fixture
def feedback():
    scripted = ScriptedFeedback()
    service = build_grpc_service(
        host="127.0.0.1",
        port=0,
        max_workers=4,
        service_names=["fraudstream.v1.FeedbackService"],
        register=lambda s: feedback_service_pb2_grpc.add_FeedbackServiceServicer_to_server(
            scripted, s
        ),
    )
    service.start()
    yield scripted, f"127.0.0.1:{service.port}", service
    service.stop(0)


def test_labels_are_applied_before_their_ack_and_a_gap_restarts_from_the_saved_position(
    feedback, make_learner, drift_stream
):
    scripted, address, _service = feedback
    under_test = make_learner()
    consumer = LabelConsumer(
        address,
        under_test.learner,
        under_test.reader,
        under_test.metrics,
        LabelProgress(under_test.metrics, stall_seconds=60),
        0.05,
        0.2,
    )
    gauge = under_test.metrics.registry
    consumer.start()
    try:
        assert scripted.starts.get(timeout=10).after_position == 0
        # Idle, nothing pushed yet: connected all the same.
        wait_for(lambda: gauge.get_sample_value("learner_feedback_connected") == 1, 2)

        examples = drift_stream.examples
        scripted.outbox.put(examples[:32])
        assert scripted.acks.get(timeout=30) == 32
        assert under_test.learner.label_position == 32, "acked only once applied and saved"

        scripted.outbox.put(examples[33:40])  # position 33 is missing
        start = scripted.starts.get(timeout=10)
        assert start.after_position == 32
        assert start.consumer == "learner"
        assert scripted.acks.empty(), "nothing after a gap is acked"
        assert under_test.learner.label_position == 32

        scripted.outbox.put(examples[20:40])  # overlaps what was applied: only 33.. is new
        assert scripted.acks.get(timeout=30) == 40
        assert under_test.learner.label_position == 40
    finally:
        consumer.stop()
    assert gauge.get_sample_value("learner_feedback_connected") == 0


def test_a_restarted_feedback_service_is_resumed_after_the_saved_position(
    feedback, make_learner, drift_stream
):
    scripted, address, service = feedback
    under_test = make_learner()
    under_test.feed(drift_stream.examples[:16])
    consumer = LabelConsumer(
        address,
        under_test.learner,
        under_test.reader,
        under_test.metrics,
        LabelProgress(under_test.metrics, stall_seconds=60),
        0.05,
        0.2,
    )
    gauge = under_test.metrics.registry
    consumer.start()
    try:
        assert scripted.starts.get(timeout=10).after_position == 16
        wait_for(lambda: gauge.get_sample_value("learner_feedback_connected") == 1, 2)
        scripted.outbox.put(drift_stream.examples[16:24])
        assert scripted.acks.get(timeout=30) == 24

        port = service.port
        service.stop(0)
        wait_for(lambda: gauge.get_sample_value("learner_feedback_connected") == 0, 5)
        time.sleep(0.5)  # a few failed attempts while it is down
        assert gauge.get_sample_value("learner_feedback_connected") == 0
        again = build_grpc_service(
            host="127.0.0.1",
            port=port,
            max_workers=4,
            service_names=["fraudstream.v1.FeedbackService"],
            register=lambda s: feedback_service_pb2_grpc.add_FeedbackServiceServicer_to_server(
                scripted, s
            ),
        )
        again.start()
        try:
            assert scripted.starts.get(timeout=10).after_position == 24
            wait_for(lambda: gauge.get_sample_value("learner_feedback_connected") == 1, 2)
        finally:
            consumer.stop()
            again.stop(0)
    finally:
        consumer.stop()
