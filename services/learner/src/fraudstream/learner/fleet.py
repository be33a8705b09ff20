"""The fleet of scorers with an open SyncModels stream: snapshots pushed to each, and their acks."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.v1.model_pb2 import SNAPSHOT_ROLE_CHALLENGER, ModelSnapshot

logger = logging.getLogger(__name__)

# Versions whose label-to-served latency is still waiting for a first applied ack.
_PENDING_LATENCIES = 256

# What a champion snapshot is: a promoted challenger or a rollback to an earlier model.
PROMOTION = "promotion"
ROLLBACK = "rollback"


@dataclass(frozen=True)
class ScorerHello:
    """What a scorer says when it connects: who it is and what it serves."""

    scorer_id: str
    snapshot_version: int
    feature_schema_hash: str
    bundle_version: str
    # The served snapshot's checksum (empty: the bundle's model, or a scorer that does not say).
    snapshot_checksum: str = ""

    def serves(self, snapshot: ModelSnapshot) -> bool:
        """Whether the scorer said it serves `snapshot` (by version and, if told, checksum)."""
        return self.snapshot_version == snapshot.version and self.snapshot_checksum in (
            "",
            snapshot.checksum,
        )


@dataclass(frozen=True)
class Push:
    """One snapshot for a scorer; `replaces_served`: the champion answering a hello that named
    another snapshot, to be served even if its version is not newer."""

    snapshot: ModelSnapshot
    replaces_served: bool = False


@dataclass(frozen=True)
class ScorerView:
    """One connected scorer as GetLearnerStatus shows it."""

    scorer_id: str
    applied_version: int
    last_rejection: str
    connected_at: float


class ScorerSession:
    """One SyncModels stream: the snapshots to push to it, in version order."""

    def __init__(self, session_id: int, hello: ScorerHello, connected_at: float) -> None:
        self.session_id = session_id
        self.hello = hello
        self.connected_at = connected_at
        self.applied_version = hello.snapshot_version
        self.sent_version = hello.snapshot_version
        self.last_rejection = ""
        # Why this scorer can take no snapshot at all (another bundle or schema), if so.
        self.incompatible = ""
        self._outbox: queue.Queue[Push | None] = queue.Queue()

    def offer(self, snapshot: ModelSnapshot) -> None:
        """Queue `snapshot` unless this scorer was already sent it or a newer one."""
        if snapshot.version > self.sent_version:
            self.sent_version = snapshot.version
            self._outbox.put(Push(snapshot))

    # The (version, label position) of the last challenger queued for this scorer.
    sent_challenger: tuple[int, int] = (0, -1)

    def offer_challenger(self, snapshot: ModelSnapshot) -> None:
        """Queue a challenger (role CHALLENGER) unless this scorer was sent it or a newer one."""
        key = (snapshot.version, snapshot.label_position)
        if key > self.sent_challenger:
            self.sent_challenger = key
            self._outbox.put(Push(snapshot))

    def replace_served(self, snapshot: ModelSnapshot) -> None:
        """Queue `snapshot` whatever its version, marked to replace what the scorer serves:
        the champion answering a hello that named another snapshot (say a bogus high version)."""
        self.sent_version = snapshot.version
        self._outbox.put(Push(snapshot, replaces_served=True))

    def pushes(self) -> Iterator[Push]:
        """The snapshots to push, blocking until the next one; ends when the session closes."""
        while (push := self._outbox.get()) is not None:
            yield push

    def close(self) -> None:
        self._outbox.put(None)


class ScorerRegistry:
    """Pushes every promoted snapshot to every connected scorer and records their acks."""

    def __init__(
        self,
        metrics: LearnerMetrics,
        bundle_version: str,
        feature_schema_hash: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._metrics = metrics
        self._bundle_version = bundle_version
        self._feature_schema_hash = feature_schema_hash
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[int, ScorerSession] = {}
        self._ids = itertools.count(1)
        self._current: ModelSnapshot | None = None
        self._label_times: OrderedDict[int, float] = OrderedDict()
        # Versions published and not yet applied by every connected scorer: (time, kind).
        self._published: OrderedDict[int, tuple[float, str]] = OrderedDict()
        self._closed = False
        # Recent label-to-served latencies (seconds), for reports and tests.
        self.latencies: deque[float] = deque(maxlen=10_000)

    @property
    def current(self) -> ModelSnapshot | None:
        return self._current

    def publish(
        self,
        snapshot: ModelSnapshot,
        newest_label_time: float | None = None,
        kind: str = PROMOTION,
    ) -> None:
        """Make `snapshot` current and queue it for every compatible connected scorer.

        `kind` (promotion or rollback) labels the time until every scorer applied it.

        An older version than the current one is ignored: a rollback (Rollback RPC thread) and
        a promotion (label thread) may be announced in either order once both are saved.
        """
        with self._lock:
            if self._current is not None and snapshot.version <= self._current.version:
                logger.debug(
                    "snapshot v%d is not newer than v%d", snapshot.version, self._current.version
                )
                return
            self._current = snapshot
            if self._sessions:
                self._published[snapshot.version] = (self._clock(), kind)
                while len(self._published) > _PENDING_LATENCIES:
                    self._published.popitem(last=False)
            if newest_label_time is not None:
                self._label_times[snapshot.version] = newest_label_time
                while len(self._label_times) > _PENDING_LATENCIES:
                    self._label_times.popitem(last=False)
            for session in self._sessions.values():
                if not session.incompatible:
                    session.offer(snapshot)

    def connect(self, hello: ScorerHello) -> ScorerSession:
        """Register a scorer; unless it serves the current snapshot, it is sent it at once."""
        with self._lock:
            session = ScorerSession(next(self._ids), hello, self._clock())
            problem = self._incompatibility(hello)
            if problem is not None:
                session.incompatible = session.last_rejection = problem
                logger.warning("scorer %s cannot take snapshots: %s", hello.scorer_id, problem)
            elif self._current is not None and not hello.serves(self._current):
                # The learner is authoritative: whatever else the scorer serves, older or
                # newer, is replaced by the champion.
                session.replace_served(self._current)
            if not session.incompatible and self._challenger is not None:
                session.offer_challenger(self._challenger)
            if self._closed:
                session.close()
            self._sessions[session.session_id] = session
            self._metrics.connected_scorers.set(len(self._sessions))
        logger.info(
            "scorer %s connected serving v%d",
            hello.scorer_id,
            hello.snapshot_version,
            extra={"scorer_id": hello.scorer_id, "snapshot_version": hello.snapshot_version},
        )
        return session

    def ack(self, session: ScorerSession, version: int, applied: bool, reason: str) -> None:
        """Record a scorer's answer to a pushed snapshot."""
        with self._lock:
            if applied:
                # Pushes after the first go up; the first may replace a higher bogus version.
                session.applied_version = version
                session.last_rejection = ""
                label_time = self._label_times.pop(version, None)
                fleet = self._served_by_fleet(version)
            else:
                session.last_rejection = reason or "rejected without a reason"
                label_time = fleet = None
        self._metrics.snapshot_acks.labels("applied" if applied else "rejected").inc()
        if fleet is not None:
            seconds, kind = fleet
            self._metrics.snapshot_to_fleet.labels(kind).observe(seconds)
            logger.info("%s v%d served by every scorer after %.3f s", kind, version, seconds)
        if label_time is not None:
            latency = max(self._clock() - label_time, 0.0)
            self._metrics.label_to_served.observe(latency)
            self.latencies.append(latency)
            logger.info(
                "snapshot v%d served by %s %.3f s after its newest label",
                version,
                session.hello.scorer_id,
                latency,
                extra={"version": version, "label_to_served_seconds": latency},
            )
        if not applied:
            logger.warning(
                "scorer %s rejected snapshot v%d: %s", session.hello.scorer_id, version, reason
            )

    def _served_by_fleet(self, version: int) -> tuple[float, str] | None:
        """(seconds since it was published, kind) once every compatible connected scorer has
        applied `version` (or a newer one); None until then. Call under the lock."""
        if version not in self._published or any(
            s.applied_version < version for s in self._sessions.values() if not s.incompatible
        ):
            return None
        published, kind = self._published.pop(version)
        return max(self._clock() - published, 0.0), kind

    # The challenger last published for shadow scoring (see publish_challenger).
    _challenger: ModelSnapshot | None = None

    def publish_challenger(self, snapshot: ModelSnapshot) -> None:
        """Make `snapshot` (role CHALLENGER) the challenger every compatible scorer scores in
        the shadow; it is queued behind any champion, so it never overtakes a promotion."""
        if snapshot.role != SNAPSHOT_ROLE_CHALLENGER:
            raise ValueError(f"snapshot v{snapshot.version} is not a challenger")
        with self._lock:
            self._challenger = snapshot
            for session in self._sessions.values():
                if not session.incompatible:
                    session.offer_challenger(snapshot)
        self._metrics.challengers_published.inc()

    def ack_challenger(
        self, session: ScorerSession, version: int, applied: bool, reason: str
    ) -> None:
        """Record a scorer's answer to a pushed challenger (never its applied version)."""
        self._metrics.challenger_acks.labels("applied" if applied else "rejected").inc()
        if not applied:
            logger.warning(
                "scorer %s rejected challenger v%d: %s", session.hello.scorer_id, version, reason
            )

    def disconnect(self, session: ScorerSession) -> None:
        session.close()
        with self._lock:
            self._sessions.pop(session.session_id, None)
            self._metrics.connected_scorers.set(len(self._sessions))
        logger.info("scorer %s disconnected", session.hello.scorer_id)

    def scorers(self) -> list[ScorerView]:
        with self._lock:
            return [
                ScorerView(s.hello.scorer_id, s.applied_version, s.last_rejection, s.connected_at)
                for s in self._sessions.values()
            ]

    def close(self) -> None:
        """End every stream (service shutdown); later connections end at once."""
        with self._lock:
            self._closed = True
            for session in self._sessions.values():
                session.close()

    def _incompatibility(self, hello: ScorerHello) -> str | None:
        if hello.bundle_version != self._bundle_version:
            return (
                f"scorer serves bundle {hello.bundle_version!r}, the learner learns on "
                f"{self._bundle_version!r}"
            )
        if hello.feature_schema_hash != self._feature_schema_hash:
            return (
                f"scorer feature schema {hello.feature_schema_hash[:12]} differs from the "
                f"learner's {self._feature_schema_hash[:12]}"
            )
        return None
