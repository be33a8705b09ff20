"""The scoring core: validate a batch, compute features once, score it with the current model."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fraudstream.common.errors import FailedPrecondition, InvalidArgument
from fraudstream.model.ensemble import DECISION_ALLOW, DECISION_NAMES, EnsembleScores
from fraudstream.model.features import (
    features_from_columns,
    transaction_columns,
    transaction_problems,
)
from fraudstream.model.linear import Contribution
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.models import ModelHolder, ServingModel
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoredBatch:
    """A batch's outcome, as arrays over the valid rows.

    `rows[i]` is transaction i's row in `scores` and `features`, or -1 when it was invalid (its
    `(field, message)` is in `problems`). `reasons[j]` explains row `explained[j]`: reasons are
    given where a decision or a detector flags the row, since nothing raised an ALLOW otherwise.
    """

    model: ServingModel
    event_ids: list[str]
    rows: np.ndarray
    problems: dict[int, tuple[str, str]]
    features: np.ndarray
    scores: EnsembleScores | None
    explained: np.ndarray
    reasons: list[list[Contribution]]


class ScoringEngine:
    """Scores batches with whatever model the holder serves when the batch starts."""

    def __init__(self, holder: ModelHolder, metrics: ScorerMetrics, max_batch_size: int) -> None:
        self.holder = holder
        self.metrics = metrics
        self.max_batch_size = max_batch_size

    def score(self, transactions: Sequence[Transaction]) -> ScoredBatch:
        """Score a batch. Raises InvalidArgument for an oversize batch and FailedPrecondition
        when no model is loaded; invalid items get a problem and the rest are scored."""
        started = time.perf_counter()
        n = len(transactions)
        if n > self.max_batch_size:
            raise InvalidArgument(
                f"batch of {n} transactions exceeds this scorer's maximum of "
                f"{self.max_batch_size}; split it into smaller batches"
            )
        model = self.holder.current
        if model is None:
            raise FailedPrecondition("no model is loaded yet; the scorer is NOT_SERVING")
        columns = transaction_columns(transactions)
        event_ids = columns.event_ids
        problems = transaction_problems(columns)
        rows = np.arange(n)
        if problems:
            valid = np.ones(n, dtype=bool)
            valid[list(problems)] = False
            rows = np.full(n, -1)
            rows[valid] = np.arange(int(valid.sum()))
            columns = columns.take(np.flatnonzero(valid))
        scores, explained, reasons = None, np.empty(0, dtype=np.int64), []
        features = np.empty((0, 0))
        if len(columns):
            features = features_from_columns(columns)
            scores = model.ensemble.score(features)
            flagged = scores.decision != DECISION_ALLOW
            for fired in scores.fired.values():
                flagged |= fired
            explained = np.flatnonzero(flagged)
            reasons = model.ensemble.reasons(scores, rows=explained)
        batch = ScoredBatch(model, event_ids, rows, problems, features, scores, explained, reasons)
        self._observe(n, problems, scores, time.perf_counter() - started)
        return batch

    def _observe(
        self,
        n: int,
        problems: dict[int, tuple[str, str]],
        scores: EnsembleScores | None,
        seconds: float,
    ) -> None:
        m = self.metrics
        m.batches.inc()
        m.batch_size.observe(n)
        m.latency.observe(seconds)
        m.transactions.inc(n - len(problems))
        for field, _message in problems.values():
            m.invalid.labels(field).inc()
        if scores is not None:
            kinds, counts = np.unique(scores.decision, return_counts=True)
            for kind, count in zip(kinds.tolist(), counts.tolist(), strict=True):
                m.decisions.labels(DECISION_NAMES[kind].lower()).inc(count)
