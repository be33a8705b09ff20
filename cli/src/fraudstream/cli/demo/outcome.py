"""What a run decided, read back from `transactions.scored` and judged against ground truth."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from confluent_kafka import Consumer

from fraudstream.cli.analysts import row_of
from fraudstream.cli.scored_tail import ScoredTail
from fraudstream.common.kafka import kafka_config
from fraudstream.v1 import score_pb2

logger = logging.getLogger(__name__)

_UNSEEN = 0
_FLAGGED = (score_pb2.DECISION_REVIEW, score_pb2.DECISION_BLOCK)


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _confusion(mask: np.ndarray, alarm: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Confusion counts of `alarm` against `truth` over the rows in `mask`."""
    tp = int(np.sum(mask & alarm & truth))
    fp = int(np.sum(mask & alarm & ~truth))
    fn = int(np.sum(mask & ~alarm & truth))
    tn = int(np.sum(mask & ~alarm & ~truth))
    return {
        "transactions": int(mask.sum()),
        "frauds": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
    }


def frozen_decisions(replay_csv: Path, rows: int, models: Path) -> np.ndarray:
    """Decisions of the bundle alone, never updated, on the first `rows` rows of the replay.

    Offline, with the scorer's own engine: the same feature pipeline and the same ensemble
    built from the same bundle, so on rows the scorer served with the bundle (snapshot 0)
    both decide alike.
    """
    import pandas as pd

    from fraudstream.model.ensemble import load_ensemble
    from fraudstream.model.schema import frame_scores

    frame = pd.read_csv(replay_csv, nrows=rows)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return frame_scores(load_ensemble(models), frame).decision


class ScoredReader:
    """Reads every score of one run (event ids `<run_id>-<row>`) from the scored topic.

    Keeps one decision and one model version per row, so redelivered scores
    (the bridge is at-least-once) count once.
    """

    def __init__(
        self,
        bootstrap: str,
        run_id: str,
        truth: np.ndarray,
        on_score: Callable[[int, score_pb2.Score], None] | None = None,
    ) -> None:
        self.run_id = run_id
        self._on_score = on_score
        self._prefix = f"{run_id}-".encode()
        self._truth = truth.astype(bool)
        self._decision = np.zeros(len(truth), dtype=np.int8)
        self._version = np.zeros(len(truth), dtype=np.int16)
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()
        self.scored = 0
        self.flagged = 0
        self.redelivered = 0
        consumer = Consumer(
            kafka_config(
                bootstrap,
                {
                    "group.id": f"fraudstream-demo-{uuid.uuid4().hex[:8]}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                },
            )
        )
        self._tail = ScoredTail(
            consumer,
            lambda message: self._count(message.key() or b"", message.value() or b""),
            "scored-reader",
        )

    def start(self) -> None:
        self._tail.start()

    def stop(self) -> None:
        self._tail.stop()

    def _count(self, key: bytes, value: bytes) -> None:
        if not key.startswith(self._prefix):
            return  # another run's score
        row = row_of(key.decode())
        if row is None or row >= len(self._truth):
            return
        score = score_pb2.Score.FromString(value)
        with self._lock:
            if self._decision[row] != _UNSEEN:
                self.redelivered += 1
                return
            self._decision[row] = score.decision or -1  # an item error still counts as seen
            version = self._versions.setdefault(score.model_version, len(self._versions) + 1)
            self._version[row] = version
            self.scored += 1
            self.flagged += score.decision in _FLAGGED
        if self._on_score is not None:
            self._on_score(row, score)

    def decisions(self) -> tuple[np.ndarray, list[str | None]]:
        """Per row: the decision (0 unseen) and the model version that made it."""
        with self._lock:
            names: list[str | None] = [None] * (len(self._versions) + 1)
            for name, index in self._versions.items():
                names[index] = name
            return self._decision.copy(), [names[v] for v in self._version]

    def detection(self) -> dict[str, Any]:
        """Confusion of REVIEW/BLOCK against isFraud, overall, for BLOCK alone and per model."""
        with self._lock:
            decision = self._decision.copy()
            version = self._version.copy()
            names = {index: name for name, index in self._versions.items()}
        seen = decision != _UNSEEN
        flagged = np.isin(decision, _FLAGGED)
        blocked = decision == score_pb2.DECISION_BLOCK

        def confusion(mask: np.ndarray, alarm: np.ndarray) -> dict[str, Any]:
            return _confusion(mask, alarm, self._truth)

        return {
            "scored": int(seen.sum()),
            "unscored": int((~seen).sum()),
            "redelivered": self.redelivered,
            "errors": int(np.sum(decision == -1)),
            "flagged": confusion(seen, flagged),
            "blocked": confusion(seen, blocked),
            "by_model_version": {
                names[index]: confusion(version == index, flagged) for index in sorted(names)
            },
        }

    def frozen_vs_served(self, frozen: np.ndarray) -> dict[str, Any]:
        """Alert (REVIEW/BLOCK) quality of the frozen bundle and of what was served, on the
        same events: every row the pipeline scored (item errors left out on both sides).

        `bundle_served` checks the comparison itself: on rows the scorer served with the
        bundle's own model (snapshot 0), the offline decisions should be the served ones.
        """
        with self._lock:
            decision = self._decision.copy()
            version = self._version.copy()
            bundle = {i for name, i in self._versions.items() if name.endswith("+s0")}
        frozen = frozen[: len(decision)]
        events = decision > 0
        events[len(frozen) :] = False
        frozen_alarm = np.zeros(len(decision), dtype=bool)
        frozen_alarm[: len(frozen)] = np.isin(frozen, _FLAGGED)
        served = _confusion(events, np.isin(decision, _FLAGGED), self._truth)
        held = _confusion(events, frozen_alarm, self._truth)
        by_bundle = events & np.isin(version, list(bundle))
        same = np.zeros(len(decision), dtype=bool)
        same[: len(frozen)] = frozen == decision[: len(frozen)]
        return {
            "events": int(events.sum()),
            "frozen": held,
            "served": served,
            "served_minus_frozen_points": {
                name: None
                if held[name] is None or served[name] is None
                else round((served[name] - held[name]) * 100, 2)
                for name in ("precision", "recall")
            },
            "bundle_served": {
                "events": int(by_bundle.sum()),
                "same_decision": int((by_bundle & same).sum()),
            },
            "note": "frozen: the bundle scored offline with the scorer's engine, never updated; "
            "served: the decisions read back from transactions.scored; both on the same events",
        }
