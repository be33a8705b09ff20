"""Readiness traces: a synthetic transaction through ingest and scorer, its label to the learner."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from fraudstream.common import names
from fraudstream.common.codec import CONTENT_TYPE_HEADER, PROTOBUF, encode_transaction
from fraudstream.common.kafka import kafka_config
from fraudstream.common.transport import Transport
from fraudstream.v1 import (
    alert_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    learner_service_pb2,
    learner_service_pb2_grpc,
    score_pb2,
    scoring_service_pb2,
    scoring_service_pb2_grpc,
    transaction_pb2,
)

logger = logging.getLogger(__name__)

_FLAGGED = (score_pb2.DECISION_REVIEW, score_pb2.DECISION_BLOCK)


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: Any

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class Targets:
    """Where the pipeline runs (docs/architecture.md's defaults, FRAUDSTREAM_* env or flags)."""

    kafka_bootstrap: str
    scorers: tuple[str, ...]
    feedback: str
    learner: str
    ingest: str
    prometheus: str
    token: str | None
    timeout: float = 30.0
    label: bool = True
    # The certificate (under mTLS) and token every call carries.
    transport: Transport = field(default_factory=Transport)
    services: dict[str, tuple[str, ...]] = field(init=False)

    def __post_init__(self) -> None:
        services: dict[str, tuple[str, ...]] = {
            "feedback": (self.feedback,),
            "learner": (self.learner,),
        }
        services |= {"scorer": self.scorers, "ingest": (self.ingest,)}
        object.__setattr__(self, "services", services)


def synthetic_transaction() -> transaction_pb2.Transaction:
    """A transfer that empties its account into an unchanged destination: the classic fraud shape.

    Its event id `readiness-<hex>` names no dataset row, so simulated analysts skip it.
    """
    transaction = transaction_pb2.Transaction(
        event_id=f"readiness-{uuid.uuid4().hex[:12]}",
        step=1,
        type=transaction_pb2.TRANSACTION_TYPE_TRANSFER,
        amount=181_000.0,
        name_orig=f"C-readiness-{uuid.uuid4().hex[:6]}",
        old_balance_orig=181_000.0,
        new_balance_orig=0.0,
        name_dest="C-readiness-mule",
        old_balance_dest=0.0,
        new_balance_dest=0.0,
    )
    transaction.event_time.GetCurrentTime()
    return transaction


def wait_until(probe: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    """Call `probe` until it returns something truthy or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


class PipelineTrace:
    """The checks that follow data through the running pipeline; results go to `checks`."""

    def __init__(self, targets: Targets) -> None:
        self.t = targets
        self.checks: list[Check] = []

    def _add(self, name: str, ok: bool, detail: Any) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def _learner_status(self) -> learner_service_pb2.GetLearnerStatusResponse:
        with self.t.transport.channel(self.t.learner) as channel:
            stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
            return stub.GetLearnerStatus(learner_service_pb2.GetLearnerStatusRequest(), timeout=5)

    def trace_scored(self) -> tuple[transaction_pb2.Transaction, score_pb2.Score] | None:
        """Produce one synthetic transaction and wait for its score on `transactions.scored`."""
        name = "trace.transactions_to_scored"
        transaction = synthetic_transaction()
        key = transaction.event_id.encode()
        consumer = Consumer(
            kafka_config(
                self.t.kafka_bootstrap,
                {
                    "group.id": f"fraudstream-readiness-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                },
            )
        )
        try:
            # Read from the current end of every partition: only scores after the produce.
            metadata = consumer.list_topics(names.TRANSACTIONS_SCORED, timeout=10)
            partitions = []
            for index in metadata.topics[names.TRANSACTIONS_SCORED].partitions:
                start = TopicPartition(names.TRANSACTIONS_SCORED, index)
                _low, high = consumer.get_watermark_offsets(start, timeout=10)
                partitions.append(TopicPartition(names.TRANSACTIONS_SCORED, index, high))
            consumer.assign(partitions)
            producer = Producer(kafka_config(self.t.kafka_bootstrap))
            began = time.monotonic()
            producer.produce(
                names.TRANSACTIONS,
                encode_transaction(transaction, PROTOBUF),
                transaction.name_orig,
                headers=[(CONTENT_TYPE_HEADER, PROTOBUF.encode())],
            )
            if producer.flush(10) != 0:
                self._add(name, False, f"could not produce to {names.TRANSACTIONS}")
                return None
            while time.monotonic() - began < self.t.timeout:
                for message in consumer.consume(num_messages=500, timeout=0.5):
                    if message.error() is None and message.key() == key:
                        score = score_pb2.Score.FromString(message.value() or b"")
                        self._add(
                            name,
                            True,
                            {
                                "event_id": transaction.event_id,
                                "seconds": round(time.monotonic() - began, 3),
                                "decision": score_pb2.Decision.Name(score.decision),
                                "risk": round(score.risk, 4),
                                "model_version": score.model_version,
                            },
                        )
                        return transaction, score
        except KafkaException as exc:
            self._add(name, False, f"Kafka: {exc.args[0].str()}")
            return None
        finally:
            consumer.close()
        self._add(name, False, f"{transaction.event_id} not scored within {self.t.timeout:.0f} s")
        return None

    def trace_label(
        self, scored: tuple[transaction_pb2.Transaction, score_pb2.Score] | None
    ) -> None:
        """Label the traced alert with the analyst token and wait for the learner to consume it."""
        if not self.t.token:
            detail = "no analyst token: set FRAUDSTREAM_TOKEN or pass --token"
            self._add("trace.alert_to_feedback", False, detail)
            self._add("trace.label_to_learner", False, detail)
            return
        try:
            with self.t.transport.channel(self.t.feedback) as channel:
                feedback = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
                position = self._label(feedback, scored)
            if position is None:
                return
            began = time.monotonic()
            reached = wait_until(
                lambda: self._learner_status().label_position >= position, self.t.timeout
            )
        except grpc.RpcError as exc:
            detail = f"{exc.code().name}: {exc.details()}"
            if not any(check.name == "trace.alert_to_feedback" for check in self.checks):
                self._add("trace.alert_to_feedback", False, detail)
            self._add("trace.label_to_learner", False, detail)
            return
        seconds = round(time.monotonic() - began, 3)
        if reached:
            detail = f"the learner consumed label position {position} after {seconds} s"
        else:
            detail = f"label position {position} not consumed within {self.t.timeout:.0f} s"
        self._add("trace.label_to_learner", bool(reached), detail)

    def _label(
        self,
        feedback: feedback_service_pb2_grpc.FeedbackServiceStub,
        scored: tuple[transaction_pb2.Transaction, score_pb2.Score] | None,
    ) -> int | None:
        """Label the traced case once the feedback service holds it; its label-log position."""
        name = "trace.alert_to_feedback"
        if scored is not None and scored[1].decision in _FLAGGED:
            event_id, how = scored[0].event_id, "reported by ingest"
        else:
            # Not flagged (or not traced): report a case directly so the label path is still tried.
            event_id, how = self._report_directly(), "reported directly (ingest raised no alert)"
        request = feedback_service_pb2.SubmitLabelRequest(
            event_id=event_id,
            verdict=alert_pb2.VERDICT_FRAUD,
            note="fraudstream readiness: synthetic emptied-account transfer",
        )
        metadata = (("authorization", f"Bearer {self.t.token}"),)
        deadline = time.monotonic() + self.t.timeout
        while True:
            try:
                reply = feedback.SubmitLabel(request, metadata=metadata, timeout=5)
            except grpc.RpcError as exc:
                # The alert is reported asynchronously: NOT_FOUND until it arrives.
                if exc.code() == grpc.StatusCode.NOT_FOUND and time.monotonic() < deadline:
                    time.sleep(0.25)
                    continue
                self._add(name, False, f"{event_id}: {exc.code().name} {exc.details()}")
                self._add("trace.label_to_learner", False, "no case to label")
                return None
            self._add(name, True, f"{event_id} {how}, labeled FRAUD at {reply.position}")
            return int(reply.position)

    def _report_directly(self) -> str:
        """Score a synthetic transaction on the scorer and report it as an audit case."""
        transaction = synthetic_transaction()
        with self.t.transport.channel(self.t.scorers[0]) as channel:
            (score,) = (
                scoring_service_pb2_grpc.ScoringServiceStub(channel)
                .Score(
                    scoring_service_pb2.ScoreRequest(
                        transactions=[transaction], include_features=True
                    ),
                    timeout=10,
                )
                .scores
            )
        alert = alert_pb2.Alert(
            transaction=transaction, score=score, kind=alert_pb2.ALERT_KIND_AUDIT
        )
        alert.alert_time.GetCurrentTime()
        with self.t.transport.channel(self.t.feedback) as channel:
            stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
            for _reply in stub.ReportAlerts(
                iter([feedback_service_pb2.ReportAlertsRequest(alerts=[alert])]), timeout=10
            ):
                pass
        return transaction.event_id
