"""The scoring core: validate a batch, compute features once, score it with the current model."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fraudstream.common.errors import FailedPrecondition, InvalidArgument
from fraudstream.model.ensemble import DECISION_NAMES, EnsembleScores
from fraudstream.model.features import features_from_transactions, transaction_error
from fraudstream.model.linear import Contribution
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.models import ModelHolder, ServingModel
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemProblem:
    """Why one transaction of a batch was not scored."""

    field: str
    message: str


@dataclass(frozen=True)
class ScoredBatch:
    """A batch's outcome. `rows[i]` is the row of transaction i in `scores`, or -1 if invalid."""

    model: ServingModel
    rows: np.ndarray
    problems: dict[int, ItemProblem]
    features: np.ndarray
    scores: EnsembleScores
    reasons: list[list[Contribution]]


def check_transaction(transaction: Transaction) -> ItemProblem | None:
    """The first problem that keeps `transaction` from being scored, or None."""
    if not transaction.event_id:
        return ItemProblem("event_id", "event_id is required (it pairs the score with the event)")
    message = transaction_error(transaction)
    if message is None:
        return None
    field = message.split(" ", 1)[0]
    return ItemProblem("type" if field == "transaction" else field, message)


class ScoringEngine:
    """Scores batches with whatever model the holder serves when the batch starts."""

    def __init__(self, holder: ModelHolder, metrics: ScorerMetrics, max_batch_size: int) -> None:
        self.holder = holder
        self.metrics = metrics
        self.max_batch_size = max_batch_size

    def score(self, transactions: Sequence[Transaction]) -> ScoredBatch:
        """Score a batch; raises InvalidArgument for an oversize batch, FailedPrecondition
        when no model is loaded. Invalid items get a problem, the rest are scored."""
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
        problems: dict[int, ItemProblem] = {}
        for i, transaction in enumerate(transactions):
            problem = check_transaction(transaction)
            if problem is not None:
                problems[i] = problem
        rows = np.full(n, -1, dtype=np.int64)
        valid = [i for i in range(n) if i not in problems] if problems else range(n)
        rows[list(valid)] = np.arange(len(valid))
        batch = transactions if not problems else [transactions[i] for i in valid]
        features = features_from_transactions(batch)
        scores = model.ensemble.score(features)
        reasons = model.ensemble.reasons(scores)
        self._observe(n, problems, scores, time.perf_counter() - started)
        return ScoredBatch(model, rows, problems, features, scores, reasons)

    def _observe(
        self, n: int, problems: dict[int, ItemProblem], scores: EnsembleScores, seconds: float
    ) -> None:
        m = self.metrics
        m.batches.inc()
        m.batch_size.observe(n)
        m.latency.observe(seconds)
        m.transactions.inc(n - len(problems))
        for problem in problems.values():
            m.invalid.labels(problem.field).inc()
        kinds, counts = np.unique(scores.decision, return_counts=True)
        for kind, count in zip(kinds.tolist(), counts.tolist(), strict=True):
            m.decisions.labels(DECISION_NAMES[kind].lower()).inc(count)
