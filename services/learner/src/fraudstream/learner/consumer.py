"""The learner's side of StreamLabels: labels in from the saved position, acks out."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import grpc

from fraudstream.common.stream import (
    ChannelFactory,
    Reconnect,
    ReconnectingStream,
    insecure_channel,
)
from fraudstream.learner.examples import ExampleReader
from fraudstream.learner.learner import Learner
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.progress import LabelProgress
from fraudstream.v1 import feedback_service_pb2, feedback_service_pb2_grpc

logger = logging.getLogger(__name__)

CONSUMER_NAME = "learner"


class LabelGap(Reconnect):
    """The label stream skipped a position; the connection is restarted from the saved one."""


class LabelConsumer:
    """Keeps one StreamLabels stream open to the feedback service, in a background thread.

    Each connection starts after the learner's saved label position. Every response is
    applied (and saved) by the learner before its last position is acked, so a crash or a
    reconnect re-reads exactly the labels the saved state does not reflect yet. A response
    that cannot be applied (a gap, a failed save) restarts the connection from there.
    """

    def __init__(
        self,
        address: str,
        learner: Learner,
        reader: ExampleReader,
        metrics: LearnerMetrics,
        progress: LabelProgress,
        initial_backoff: float = 0.5,
        max_backoff: float = 15.0,
        channel_factory: ChannelFactory = insecure_channel,
    ) -> None:
        self.address = address
        self._learner = learner
        self._reader = reader
        self._position = learner.label_position  # the last one applied on this connection
        self._progress = progress
        self._stream: ReconnectingStream[
            feedback_service_pb2.StreamLabelsRequest, feedback_service_pb2.StreamLabelsResponse
        ] = ReconnectingStream(
            "stream-labels",
            address,
            _open_stream_labels,
            self._start,
            self._on_response,
            on_connected=metrics.feedback_connected.set,
            channel_factory=channel_factory,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )

    def start(self) -> None:
        self._stream.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stream.stop(timeout)

    def _start(self) -> list[feedback_service_pb2.StreamLabelsRequest]:
        self._position = self._learner.label_position
        logger.info("StreamLabels from %s after position %d", self.address, self._position)
        start = feedback_service_pb2.StreamLabelsStart(
            consumer=CONSUMER_NAME, after_position=self._position
        )
        return [feedback_service_pb2.StreamLabelsRequest(start=start)]

    def _on_response(
        self, response: feedback_service_pb2.StreamLabelsResponse
    ) -> list[feedback_service_pb2.StreamLabelsRequest]:
        # A failed save raises: the learner went back to its saved state, and so do we.
        try:
            self._position = self._apply(response, self._position)
        except Exception as exc:
            self._progress.failed(self._position, exc)
            raise
        self._progress.applied(self._position)
        ack = feedback_service_pb2.LabelsAck(position=self._position)
        return [feedback_service_pb2.StreamLabelsRequest(ack=ack)]

    def _apply(self, response: feedback_service_pb2.StreamLabelsResponse, position: int) -> int:
        examples = [e for e in response.examples if e.position > position]
        if not examples:
            return position
        expected = range(position + 1, position + 1 + len(examples))
        if [e.position for e in examples] != list(expected):
            raise LabelGap(
                f"label stream jumped from position {position} to "
                f"{[e.position for e in examples][:3]}..."
            )
        return self._learner.apply(self._reader.read(examples))


def _open_stream_labels(
    channel: grpc.Channel, requests: Iterator[feedback_service_pb2.StreamLabelsRequest]
) -> Iterable[feedback_service_pb2.StreamLabelsResponse]:
    return feedback_service_pb2_grpc.FeedbackServiceStub(channel).StreamLabels(requests)
