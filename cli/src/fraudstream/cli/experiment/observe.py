"""What a chaos run reads back: every copy of every score, the label log, the stored alerts."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import grpc
import numpy as np
from confluent_kafka import Consumer, Message

from fraudstream.cli.analysts import row_of
from fraudstream.cli.demo.watch import scrape, total
from fraudstream.cli.scored_tail import ScoredTail
from fraudstream.common import names
from fraudstream.common.kafka import kafka_config
from fraudstream.common.transport import PLAINTEXT, Transport
from fraudstream.v1 import (
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    learner_service_pb2,
    learner_service_pb2_grpc,
    score_pb2,
)

logger = logging.getLogger(__name__)


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        kafka_config(
            bootstrap,
            {
                "group.id": f"fraudstream-chaos-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                # Through logging, not stderr: a killed broker would fill the progress lines.
                "logger": logging.getLogger("fraudstream.cli.librdkafka"),
            },
        )
    )


class ScoredLog:
    """Counts every copy of every score of one run on `transactions.scored` (no de-duplication).

    Per row: how many copies, the Kafka timestamp of the first copy and its model version,
    so lost rows, duplicates and the scoring timeline come from the topic itself.
    """

    def __init__(self, bootstrap: str, run_id: str, rows: int) -> None:
        self._prefix = f"{run_id}-".encode()
        self.copies = np.zeros(rows, dtype=np.int32)
        self.first_ms = np.zeros(rows, dtype=np.int64)
        self._version = np.zeros(rows, dtype=np.int16)
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()
        self.scored = 0
        self.newest_ms = 0  # the newest first-copy timestamp seen
        self._tail = ScoredTail(
            _consumer(bootstrap), self._on_message, "scored-log", error_level=logging.DEBUG
        )

    def start(self) -> None:
        self._tail.start()

    def stop(self) -> None:
        self._tail.stop()

    def _on_message(self, message: Message) -> None:
        key = message.key() or b""
        if key.startswith(self._prefix):
            self._count(key, message.value() or b"", message.timestamp()[1])

    def _count(self, key: bytes, value: bytes, timestamp_ms: int) -> None:
        row = row_of(key.decode())
        if row is None or row >= len(self.copies):
            return
        with self._lock:
            self.copies[row] += 1
            if self.copies[row] > 1:
                return
            version = score_pb2.Score.FromString(value).model_version
            self._version[row] = self._versions.setdefault(version, len(self._versions) + 1)
            self.first_ms[row] = timestamp_ms
            self.newest_ms = max(self.newest_ms, timestamp_ms)
            self.scored += 1

    def versions(self) -> list[str | None]:
        """Per row, the model version of its first score (None: unscored)."""
        with self._lock:
            by_index: dict[int, str | None] = {v: k for k, v in self._versions.items()}
            return [by_index.get(int(v)) for v in self._version]


@dataclass
class LearnerWatch:
    """Polls GetLearnerStatus: the champion version over time, to see it never goes back."""

    address: str
    transport: Transport = PLAINTEXT
    history: list[tuple[float, int, int]] = field(default_factory=list)  # (time, version, pos)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="learner-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        with self.transport.channel(self.address) as channel:
            stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
            while not self._stop.wait(0.5):
                try:
                    status = stub.GetLearnerStatus(
                        learner_service_pb2.GetLearnerStatusRequest(), timeout=2
                    )
                except grpc.RpcError:
                    continue  # down or restarting: the gap shows in the history
                self.history.append(
                    (time.time(), int(status.champion_version), int(status.label_position))
                )

    def went_back(self) -> list[dict[str, float]]:
        """Every poll whose champion version is lower than an earlier one."""
        back, highest = [], 0
        for at, version, _ in self.history:
            if version < highest:
                back.append({"at": at, "version": version, "after": highest})
            highest = max(highest, version)
        return back


def learner_status(address: str, transport: Transport = PLAINTEXT) -> dict[str, int]:
    """The learner's champion, label position and labels seen (empty when it does not answer)."""
    with transport.channel(address) as channel:
        stub = learner_service_pb2_grpc.LearnerServiceStub(channel)
        try:
            status = stub.GetLearnerStatus(learner_service_pb2.GetLearnerStatusRequest(), timeout=5)
        except grpc.RpcError:
            return {}
    return {
        "champion_version": int(status.champion_version),
        "label_position": int(status.label_position),
        "labels_seen": int(status.labels_seen),
        "promotions": int(status.promotions),
    }


def wait_learner_caught_up(feedback_metrics: str, learner_metrics: str, seconds: float) -> bool:
    """Wait until the learner's label position reaches the feedback log's; True if it did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        logged = total(scrape(feedback_metrics), "feedback_label_log_position")
        if total(scrape(learner_metrics), "learner_label_position") >= logged:
            return True
        time.sleep(0.5)
    return False


def label_log(bootstrap: str, run_id: str, idle_seconds: float = 4.0) -> list[tuple[int, str]]:
    """(position, event id) of every `fraud.labels` record of this run, duplicates kept."""
    consumer = _consumer(bootstrap)
    consumer.subscribe([names.FRAUD_LABELS])
    prefix = f"{run_id}-"
    records: list[tuple[int, str]] = []
    idle_since = time.monotonic()
    try:
        while time.monotonic() - idle_since < idle_seconds:
            messages = consumer.consume(num_messages=1000, timeout=0.5)
            if messages:
                idle_since = time.monotonic()
            for message in messages:
                event_id = (message.key() or b"").decode()
                if message.error() is None and event_id.startswith(prefix):
                    position = dict(message.headers() or []).get("position") or b"0"
                    records.append((int(position), event_id))
    finally:
        consumer.close()
    return records


def stored_alerts(
    address: str, token: str, run_id: str, transport: Transport = PLAINTEXT
) -> Counter[str]:
    """Cases per event id of this run in the feedback store, read page by page with ListAlerts."""
    cases: Counter[str] = Counter()
    metadata = (("authorization", f"Bearer {token}"),)
    with transport.channel(address) as channel:
        stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        page_token = ""
        while True:
            page = stub.ListAlerts(
                feedback_service_pb2.ListAlertsRequest(page_size=100, page_token=page_token),
                metadata=metadata,
                timeout=10,
            )
            cases.update(c.event_id for c in page.cases if c.event_id.startswith(f"{run_id}-"))
            page_token = page.next_page_token
            if not page_token:
                return cases


def alert_copies(bootstrap: str, run_id: str, idle_seconds: float = 4.0) -> Counter[str]:
    """Copies per event id of this run on `fraud.alerts` (at-least-once: repeats possible)."""
    consumer = _consumer(bootstrap)
    consumer.subscribe([names.FRAUD_ALERTS])
    prefix = f"{run_id}-".encode()
    copies: Counter[str] = Counter()
    idle_since = time.monotonic()
    try:
        while time.monotonic() - idle_since < idle_seconds:
            messages = consumer.consume(num_messages=1000, timeout=0.5)
            if messages:
                idle_since = time.monotonic()
            for message in messages:
                key = message.key() or b""
                if message.error() is None and key.startswith(prefix):
                    copies[key.decode()] += 1
    finally:
        consumer.close()
    return copies
