"""Readiness checks of a running pipeline, each a named pass or fail with what was seen."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import grpc
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.cli.kafka_admin import list_topics
from fraudstream.common import topics
from fraudstream.common.codec import CONTENT_TYPE_HEADER, PROTOBUF, encode_transaction
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
    """Where the pipeline runs (DESIGN.md's defaults, FRAUDSTREAM_* env or flags)."""

    kafka_bootstrap: str
    scorers: tuple[str, ...]
    feedback: str
    learner: str
    ingest: str
    prometheus: str
    token: str | None
    timeout: float = 30.0
    label: bool = True
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


def _until(probe: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    """Call `probe` until it returns something truthy or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


class Readiness:
    """Runs every check against `targets`; later checks use what earlier ones learned."""

    def __init__(self, targets: Targets) -> None:
        self.t = targets
        self.checks: list[Check] = []

    def _add(self, name: str, ok: bool, detail: Any) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def run(self) -> list[Check]:
        kafka_ok = self.kafka()
        healthy = {name: self.health(name, addrs) for name, addrs in self.t.services.items()}
        infos = self.scorer_models() if healthy["scorer"] else []
        if healthy["learner"] and infos:
            self.versions(infos)
        else:
            self._add("versions.consistent", False, "needs a serving learner and scorer")
        self.prometheus()
        traced = kafka_ok and healthy["ingest"] and healthy["scorer"]
        scored = self.trace_scored() if traced else None
        if scored is None and not traced:
            self._add("trace.transactions_to_scored", False, "needs Kafka, ingest and scorer")
        if self.t.label:
            self.trace_label(scored)
        return self.checks

    # -- infrastructure ------------------------------------------------------

    def kafka(self) -> bool:
        try:
            found = list_topics(self.t.kafka_bootstrap, timeout=min(self.t.timeout, 10))
        except KafkaException as exc:
            self._add("kafka.reachable", False, f"{self.t.kafka_bootstrap}: {exc.args[0].str()}")
            self._add("kafka.topics", False, "broker not reachable")
            return False
        self._add("kafka.reachable", True, self.t.kafka_bootstrap)
        missing = [name for name in topics.TOPICS if name not in found]
        detail = f"missing {missing}" if missing else {n: found[n] for n in topics.TOPICS}
        return self._add("kafka.topics", not missing, detail)

    def health(self, name: str, addresses: tuple[str, ...]) -> bool:
        ok = True
        for address in addresses:
            check = f"health.{name}" if len(addresses) == 1 else f"health.{name}@{address}"
            try:
                with grpc.insecure_channel(address) as channel:
                    reply = health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(), timeout=5
                    )
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                ok &= self._add(check, status == "SERVING", f"{address}: {status}")
            except grpc.RpcError as exc:
                ok &= self._add(check, False, f"{address}: {exc.code().name} {exc.details()}")
        return ok

    def scorer_models(self) -> list[tuple[str, scoring_service_pb2.GetModelInfoResponse]]:
        infos = []
        for address in self.t.scorers:
            name = "scorer.model_loaded"
            name += "" if len(self.t.scorers) == 1 else f"@{address}"
            try:
                with grpc.insecure_channel(address) as channel:
                    info = scoring_service_pb2_grpc.ScoringServiceStub(channel).GetModelInfo(
                        scoring_service_pb2.GetModelInfoRequest(), timeout=5
                    )
            except grpc.RpcError as exc:
                self._add(name, False, f"{address}: {exc.code().name} {exc.details()}")
                continue
            loaded = bool(info.bundle_version and info.feature_names)
            self._add(name, loaded, f"{address}: {info.model_version or 'no model'}")
            infos.append((address, info))
        return infos

    def versions(self, infos: list[tuple[str, scoring_service_pb2.GetModelInfoResponse]]) -> None:
        def look() -> tuple[str, list[str]]:
            status = self._learner_status()
            champion = (status.bundle_version, status.champion_version)
            differ = [
                f"{address} serves {info.bundle_version}+s{info.snapshot_version}"
                for address, info in self._fresh(infos)
                if (info.bundle_version, info.snapshot_version) != champion
            ]
            return f"{status.bundle_version}+s{status.champion_version}", differ

        # A promotion may be on its way to the scorers: give it a few seconds.
        deadline = time.monotonic() + min(self.t.timeout, 10)
        try:
            champion, differ = look()
            while differ and time.monotonic() < deadline:
                time.sleep(0.5)
                champion, differ = look()
        except grpc.RpcError as exc:
            self._add("versions.consistent", False, f"{exc.code().name}: {exc.details()}")
            return
        if differ:
            self._add(
                "versions.consistent", False, f"learner champion {champion}; " + "; ".join(differ)
            )
        else:
            self._add("versions.consistent", True, f"learner and every scorer at {champion}")

    def _fresh(
        self, infos: list[tuple[str, scoring_service_pb2.GetModelInfoResponse]]
    ) -> list[tuple[str, scoring_service_pb2.GetModelInfoResponse]]:
        fresh = []
        for address, _old in infos:
            with grpc.insecure_channel(address) as channel:
                stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
                fresh.append(
                    (
                        address,
                        stub.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=5),
                    )
                )
        return fresh

    def _learner_status(self) -> learner_service_pb2.GetLearnerStatusResponse:
        with grpc.insecure_channel(self.t.learner) as channel:
            stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
            return stub.GetLearnerStatus(learner_service_pb2.GetLearnerStatusRequest(), timeout=5)

    def prometheus(self) -> None:
        url = urlparse(self.t.prometheus)
        with socket.socket() as probe:
            probe.settimeout(1.0)
            listening = probe.connect_ex((url.hostname or "localhost", url.port or 9090)) == 0
        if not listening:
            self._add(
                "prometheus.targets", True, f"skipped: nothing listens on {self.t.prometheus}"
            )
            return
        try:
            with urllib.request.urlopen(f"{self.t.prometheus}/api/v1/targets", timeout=5) as r:
                active = json.load(r)["data"]["activeTargets"]
        except (OSError, ValueError, KeyError) as exc:
            self._add("prometheus.targets", False, f"{self.t.prometheus}: {exc}")
            return
        down = [
            f"{t['labels'].get('job')} {t['scrapeUrl']}: {t.get('lastError') or t['health']}"
            for t in active
            if t["health"] != "up"
        ]
        detail = down or f"{len(active)} targets up"
        self._add("prometheus.targets", bool(active) and not down, detail or "no targets")

    # -- traces through the pipeline --------------------------------------------

    def trace_scored(self) -> tuple[transaction_pb2.Transaction, score_pb2.Score] | None:
        """Produce one synthetic transaction and wait for its score on `transactions.scored`."""
        name = "trace.transactions_to_scored"
        transaction = synthetic_transaction()
        key = transaction.event_id.encode()
        consumer = Consumer(
            {
                "bootstrap.servers": self.t.kafka_bootstrap,
                "group.id": f"fraudstream-readiness-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
            }
        )
        try:
            # Read from the current end of every partition: only scores after the produce.
            metadata = consumer.list_topics(topics.TRANSACTIONS_SCORED, timeout=10)
            partitions = []
            for index in metadata.topics[topics.TRANSACTIONS_SCORED].partitions:
                start = TopicPartition(topics.TRANSACTIONS_SCORED, index)
                _low, high = consumer.get_watermark_offsets(start, timeout=10)
                partitions.append(TopicPartition(topics.TRANSACTIONS_SCORED, index, high))
            consumer.assign(partitions)
            producer = Producer({"bootstrap.servers": self.t.kafka_bootstrap})
            began = time.monotonic()
            producer.produce(
                topics.TRANSACTIONS,
                encode_transaction(transaction, PROTOBUF),
                transaction.name_orig,
                headers=[(CONTENT_TYPE_HEADER, PROTOBUF.encode())],
            )
            if producer.flush(10) != 0:
                self._add(name, False, f"could not produce to {topics.TRANSACTIONS}")
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
            detail = "no analyst token: set FRAUDSTREAM_ANALYST_TOKEN or pass --token"
            self._add("trace.alert_to_feedback", False, detail)
            self._add("trace.label_to_learner", False, detail)
            return
        try:
            with grpc.insecure_channel(self.t.feedback) as channel:
                feedback = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
                position = self._label(feedback, scored)
            if position is None:
                return
            began = time.monotonic()
            reached = _until(
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
        with grpc.insecure_channel(self.t.scorers[0]) as channel:
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
        with grpc.insecure_channel(self.t.feedback) as channel:
            stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
            for _reply in stub.ReportAlerts(
                iter([feedback_service_pb2.ReportAlertsRequest(alerts=[alert])]), timeout=10
            ):
                pass
        return transaction.event_id
