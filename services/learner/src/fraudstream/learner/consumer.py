"""The learner's side of StreamLabels: labels in from the saved position, acks out."""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Iterator

import grpc

from fraudstream.learner.examples import ExampleReader
from fraudstream.learner.learner import Learner
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.v1 import feedback_service_pb2, feedback_service_pb2_grpc

logger = logging.getLogger(__name__)

CONSUMER_NAME = "learner"
_END = None  # ends the request stream of one connection


class LabelGap(Exception):
    """The label stream skipped a position; the connection is restarted from the saved one."""


class LabelConsumer:
    """Keeps one StreamLabels stream open to the feedback service, in a background thread.

    Each connection starts after the learner's saved label position. Every response is
    applied (and saved) by the learner before its last position is acked, so a crash or a
    reconnect re-reads exactly the labels the saved state does not reflect yet.
    """

    def __init__(
        self,
        address: str,
        learner: Learner,
        reader: ExampleReader,
        metrics: LearnerMetrics,
        initial_backoff: float = 0.5,
        max_backoff: float = 15.0,
    ) -> None:
        self.address = address
        self._learner = learner
        self._reader = reader
        self._metrics = metrics
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._stop = threading.Event()
        self._call: grpc.Future | None = None
        self._thread = threading.Thread(target=self._run, name="stream-labels", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        backoff = self._initial_backoff
        failures = 0
        while not self._stop.is_set():
            position = self._learner.label_position
            outbox: queue.Queue[feedback_service_pb2.StreamLabelsRequest | None] = queue.Queue()
            outbox.put(
                feedback_service_pb2.StreamLabelsRequest(
                    start=feedback_service_pb2.StreamLabelsStart(
                        consumer=CONSUMER_NAME, after_position=position
                    )
                )
            )
            try:
                with grpc.insecure_channel(self.address) as channel:
                    stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
                    call = stub.StreamLabels(_drain(outbox))
                    self._call = call  # type: ignore[assignment]
                    if self._stop.is_set():
                        call.cancel()  # type: ignore[attr-defined]
                    call.initial_metadata()  # type: ignore[attr-defined]
                    self._metrics.feedback_connected.set(1)
                    logger.info("StreamLabels open to %s after position %d", self.address, position)
                    failures, backoff = 0, self._initial_backoff
                    for response in call:
                        position = self._apply(response, position)
                        outbox.put(
                            feedback_service_pb2.StreamLabelsRequest(
                                ack=feedback_service_pb2.LabelsAck(position=position)
                            )
                        )
            except grpc.RpcError as exc:
                if not self._stop.is_set():
                    failures += 1
                    log = logger.warning if failures == 1 else logger.debug
                    log("feedback %s: label stream broke (%s); retrying", self.address, exc.code())  # type: ignore[attr-defined]
            except LabelGap as exc:
                logger.warning("%s; reconnecting", exc)
            except Exception:
                # The learner could not save its state; it went back to the saved one.
                logger.exception("applying labels failed; reconnecting from the saved position")
            finally:
                outbox.put(_END)
                self._call = None
                self._metrics.feedback_connected.set(0)
            # Full jitter: a restarted feedback service is not hit by every consumer at once.
            self._stop.wait(random.uniform(0, backoff) if failures else self._initial_backoff)
            backoff = min(backoff * 2, self._max_backoff)

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


def _drain(
    outbox: queue.Queue[feedback_service_pb2.StreamLabelsRequest | None],
) -> Iterator[feedback_service_pb2.StreamLabelsRequest]:
    while (request := outbox.get()) is not _END:
        yield request
