"""Readiness checks of a running pipeline: infrastructure, services, models, then the traces."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.request
from dataclasses import replace
from urllib.parse import urlparse

import grpc
from confluent_kafka import KafkaException
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.cli.kafka.admin import list_topics
from fraudstream.cli.readiness.trace import Check, PipelineTrace, Targets
from fraudstream.common import names
from fraudstream.common.kafka import KafkaSecurity
from fraudstream.v1 import (
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    learner_service_pb2,
    learner_service_pb2_grpc,
    scoring_service_pb2,
    scoring_service_pb2_grpc,
)

logger = logging.getLogger(__name__)

__all__ = ["Check", "Readiness", "Targets"]


def _probe_scorer(channel: grpc.Channel) -> None:
    scoring_service_pb2_grpc.ScoringServiceStub(channel).GetModelInfo(
        scoring_service_pb2.GetModelInfoRequest(), timeout=5
    )


def _probe_feedback(channel: grpc.Channel) -> None:
    feedback_service_pb2_grpc.FeedbackServiceStub(channel).ListAlerts(
        feedback_service_pb2.ListAlertsRequest(page_size=1), timeout=5
    )


def _probe_learner(channel: grpc.Channel) -> None:
    learner_service_pb2_grpc.LearnerServiceStub(channel).GetLearnerStatus(
        learner_service_pb2.GetLearnerStatusRequest(), timeout=5
    )


class Readiness(PipelineTrace):
    """Runs every check against `targets`; later checks use what earlier ones learned."""

    def run(self) -> list[Check]:
        kafka_ok = self.kafka()
        healthy = {name: self.health(name, addrs) for name, addrs in self.t.services.items()}
        self.security()
        infos = self.scorer_models()  # a NOT_SERVING scorer may still say why: no model yet
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
        # Say how it was reached: plaintext (the local demo, loopback) or TLS/SASL.
        protocol = KafkaSecurity().protocol.upper() or "PLAINTEXT"
        self._add(
            "kafka.reachable", True, {"bootstrap": self.t.kafka_bootstrap, "protocol": protocol}
        )
        missing = [name for name in names.TOPICS if name not in found]
        detail = f"missing {missing}" if missing else {n: found[n] for n in names.TOPICS}
        return self._add("kafka.topics", not missing, detail)

    def health(self, name: str, addresses: tuple[str, ...]) -> bool:
        ok = True
        for address in addresses:
            check = f"health.{name}" if len(addresses) == 1 else f"health.{name}@{address}"
            try:
                with self.t.transport.channel(address) as channel:
                    reply = health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(), timeout=5
                    )
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                ok &= self._add(check, status == "SERVING", f"{address}: {status}")
            except grpc.RpcError as exc:
                ok &= self._add(check, False, f"{address}: {exc.code().name} {exc.details()}")
        return ok

    def security(self) -> None:
        """Per service: the transport, and whether a caller without a token is admitted."""
        transport = "mTLS" if self.t.transport.secure else "plaintext"
        # The same certificate (under mTLS) but no token: what anyone able to connect has.
        anonymous = replace(self.t.transport, token=None)
        probes = {
            "scorer": (self.t.scorers[0], _probe_scorer),
            "feedback": (self.t.feedback, _probe_feedback),
            "learner": (self.t.learner, _probe_learner),
        }
        for name, (address, probe) in probes.items():
            try:
                with anonymous.channel(address) as channel:
                    probe(channel)
                admitted: bool | None = True
            except grpc.RpcError as exc:
                code = exc.code()
                admitted = (
                    None
                    if code == grpc.StatusCode.UNAVAILABLE
                    else (
                        code
                        not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
                    )
                )
            detail = {"transport": transport, "anonymous_allowed": admitted}
            self._add(f"security.{name}", admitted is False, detail)

    def scorer_models(self) -> list[tuple[str, scoring_service_pb2.GetModelInfoResponse]]:
        infos = []
        for address in self.t.scorers:
            name = "scorer.model_loaded"
            name += "" if len(self.t.scorers) == 1 else f"@{address}"
            try:
                with self.t.transport.channel(address) as channel:
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
            with self.t.transport.channel(address) as channel:
                stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
                fresh.append(
                    (
                        address,
                        stub.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=5),
                    )
                )
        return fresh

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
