"""The scoring core: validate a batch, compute features once, score it with the current model."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fraudstream.common.errors import FailedPrecondition, InvalidArgument
from fraudstream.model.columns import transaction_columns, transaction_problems
from fraudstream.model.drift import RiskDriftMonitor
from fraudstream.model.features import features_from_columns
from fraudstream.model.linear import Contribution
from fraudstream.model.schema import account_values, with_account_features
from fraudstream.model.scores import DECISION_ALLOW, DECISION_NAMES, EnsembleScores, concat_scores
from fraudstream.model.validity import unscorable_rows
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.serving_model import ModelHolder, ServingModel
from fraudstream.scorer.shadow import ShadowScores, shadow_scores
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

# The `model` label of per-model metrics: the model serving decisions, and the shadow one.
CHAMPION = "champion"
CHALLENGER = "challenger"
# Metric label of items refused for no one field (features overflow, the model failed on them).
UNSCORABLE = "unscorable"
_NON_FINITE_RISK = (
    "the model's risk for this transaction is not a finite number, so it was not scored "
    "(fail closed, never ALLOW): check its amount and balances"
)


@dataclass(frozen=True)
class ScoredBatch:
    """A batch's outcome, as arrays over the rows that were scored.

    `rows[i]` is transaction i's row in `scores` and `features`, or -1 when it could not be
    scored (its `(field, message)` is in `problems`). `reasons[j]` explains row `explained[j]`:
    reasons are given where a decision or a detector flags the row, since nothing raised an
    ALLOW otherwise.
    """

    model: ServingModel
    event_ids: list[str]
    rows: np.ndarray
    problems: dict[int, tuple[str, str]]
    features: np.ndarray
    scores: EnsembleScores | None
    explained: np.ndarray
    reasons: list[list[Contribution]]
    shadow: ShadowScores | None = None


class ScoringEngine:
    """Scores batches with whatever model the holder serves when the batch starts."""

    def __init__(
        self,
        holder: ModelHolder,
        metrics: ScorerMetrics,
        max_batch_size: int,
        drift: RiskDriftMonitor | None = None,
    ) -> None:
        self.holder = holder
        self.metrics = metrics
        self.max_batch_size = max_batch_size
        # PSI of the served model's risks: recent window against the first one.
        self.drift = drift if drift is not None else RiskDriftMonitor()
        # Each decision's two counters, looked up once: labels() costs microseconds a call.
        self._counters = {
            kind: (
                metrics.decisions.labels(name.lower()),
                metrics.model_decisions.labels(CHAMPION, name.lower()),
            )
            for kind, name in DECISION_NAMES.items()
        }

    def score(self, transactions: Sequence[Transaction]) -> ScoredBatch:
        """Score a batch. Raises InvalidArgument for an oversize batch and FailedPrecondition
        when no model is loaded; nothing else fails the batch.

        Fails closed per item: a transaction whose raw fields are invalid, whose computed
        features are not finite, that the model raises on, or whose risk comes out non-finite
        gets a problem (sent as the Score's `error`, so the caller dead-letters it with the
        reason) and never a decision: an unscorable transaction is never ALLOWed silently.
        The rest of the batch is scored as usual.

        With a challenger held, the same rows are also scored by it in the shadow: one more
        pass of its linear classifier over the inputs the serving model computed (features
        and detector scores are shared). Its risks and decisions are recorded, never served.
        """
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
        accounts = None
        if model.ensemble.account_features:
            # Fail closed: a transaction without valid account features is not scored.
            accounts, missing = account_values(transactions)
            problems = {**missing, **problems}
        # `kept[j]` is the batch index of the j-th row still in play.
        kept = np.arange(n)
        if problems:
            kept = np.setdiff1d(kept, list(problems))
            columns = columns.take(kept)
        features = features_from_columns(columns) if len(kept) else np.empty((0, 0))
        if accounts is not None and len(kept):
            features = with_account_features(features, accounts[kept])
        names = model.ensemble.feature_names
        kept, features = _drop(kept, features, unscorable_rows(features, names), problems)
        scores, explained, reasons = None, np.empty(0, dtype=np.int64), []
        if len(kept):
            scores, failed = _score_per_item(model, features)
            kept, features = _drop(kept, features, failed, problems)
        if scores is not None:
            flagged = scores.decision != DECISION_ALLOW
            for fired in scores.fired.values():
                flagged |= fired
            explained = np.flatnonzero(flagged)
            reasons = _reasons(model, scores, explained)
        shadow, shadow_seconds = None, 0.0
        challenger = self.holder.challenger
        if challenger is not None and scores is not None:
            shadow_started = time.perf_counter()
            shadow = shadow_scores(challenger, scores)
            shadow_seconds = time.perf_counter() - shadow_started
        rows = np.full(n, -1)
        rows[kept] = np.arange(len(kept))
        batch = ScoredBatch(
            model, event_ids, rows, problems, features, scores, explained, reasons, shadow
        )
        self._observe(n, problems, scores, time.perf_counter() - started)
        if shadow is not None:
            self._observe_shadow(shadow, shadow_seconds)
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
            m.invalid.labels(field or UNSCORABLE).inc()
        if scores is not None:
            if scores.decision.size == 1:  # one transaction (a Score call): no np.unique
                kinds, counts = [int(scores.decision[0])], [1]
            else:
                found, tally = np.unique(scores.decision, return_counts=True)
                kinds, counts = found.tolist(), tally.tolist()
            for kind, count in zip(kinds, counts, strict=True):
                for counter in self._counters[kind]:
                    counter.inc(count)
            m.risk.observe(CHAMPION, scores.risk)
            psi = self.drift.observe(scores.risk)
            if psi is not None:
                m.risk_psi.set(psi)

    def _observe_shadow(self, shadow: ShadowScores, seconds: float) -> None:
        m = self.metrics
        m.shadow_latency.observe(seconds)
        kinds, counts = np.unique(shadow.decision[shadow.scored], return_counts=True)
        for kind, count in zip(kinds.tolist(), counts.tolist(), strict=True):
            m.model_decisions.labels(CHALLENGER, DECISION_NAMES[kind].lower()).inc(count)
        m.risk.observe(CHALLENGER, shadow.risk[shadow.scored])


def _drop(
    kept: np.ndarray,
    features: np.ndarray,
    failed: dict[int, tuple[str, str]],
    problems: dict[int, tuple[str, str]],
) -> tuple[np.ndarray, np.ndarray]:
    """Move the `failed` rows (positions in `kept`) into `problems`; the rows left in play."""
    if not failed:
        return kept, features
    for position, problem in failed.items():
        problems[int(kept[position])] = problem
    stay = np.ones(len(kept), dtype=bool)
    stay[list(failed)] = False
    return kept[stay], features[stay]


def _quiet() -> np.errstate:
    """Overflow inside a model is caught by checking its results, not by numpy's warnings."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def _reasons(
    model: ServingModel, scores: EnsembleScores, rows: np.ndarray
) -> list[list[Contribution]]:
    """Reasons of the flagged rows; should explaining fail, the decisions still stand bare."""
    try:
        with _quiet():
            return model.ensemble.reasons(scores, rows=rows)
    except Exception as exc:
        logger.error(
            "could not explain %d scores (%s); sending them without reasons", rows.size, exc
        )
        return [[] for _ in range(rows.size)]


def _score_per_item(
    model: ServingModel, features: np.ndarray
) -> tuple[EnsembleScores | None, dict[int, tuple[str, str]]]:
    """Scores of the rows that can be served (in order, None if none) and, by row, why the
    others cannot: the model raised on them, or their risk or a detector score is not finite.

    Should the model raise on the batch, each row is scored alone so that only the rows it
    raises on fail.
    """
    failed: dict[int, tuple[str, str]] = {}
    scores: EnsembleScores | None
    try:
        with _quiet():
            scores = model.ensemble.score(features)
    except Exception as exc:
        logger.error(
            "the model raised on a batch of %d (%s); scoring it row by row", len(features), exc
        )
        parts: list[EnsembleScores] = []
        for row in range(len(features)):
            try:
                with _quiet():
                    parts.append(model.ensemble.score(features[row : row + 1]))
            except Exception as row_exc:
                failed[row] = ("", f"the model could not score this transaction: {row_exc}")
        scores = concat_scores(parts) if parts else None
    if scores is None:
        return None, failed
    bad = scores.unscorable_rows()
    if bad.size:
        survivors = np.setdiff1d(np.arange(len(features)), list(failed))
        for row in survivors[bad].tolist():
            failed[row] = ("", _NON_FINITE_RISK)
        good = np.setdiff1d(np.arange(scores.risk.shape[0]), bad)
        scores = scores.take(good) if good.size else None
    return scores, failed
