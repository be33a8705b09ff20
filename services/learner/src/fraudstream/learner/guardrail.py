"""The guardrail: whether the challenger may replace the champion, judged on the window."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from fraudstream.learner.intervals import PairedEvidence
from fraudstream.learner.window import PrequentialWindow, WindowMetrics
from fraudstream.model.scores import Thresholds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Judgement:
    """The guardrail's answer after a scored chunk: promote, refuse (counted), or wait.

    `champion` and `challenger` are the measurements the answer rests on; a promoted
    snapshot carries them.
    """

    promote: bool
    refused: bool
    reason: str
    champion: WindowMetrics
    challenger: WindowMetrics
    # The thresholds a promoted challenger serves with (None: the serving ones).
    thresholds: Thresholds | None = None
    # The paired IPW estimates behind the answer, when the guardrail computed them.
    evidence: PairedEvidence | None = None
    # Why, in a word (promotion.CAUSES); empty for a guardrail that does not count its causes.
    cause: str = ""


class Guardrail(Protocol):
    """Decides whether the challenger replaces the champion; the learner asks after each chunk.

    `window` holds the labels both models scored before learning from them; `serving` are the
    champion's REVIEW and BLOCK thresholds; `updates_since_promotion` counts the challenger's
    updates since it was last equal to the champion. A judgement with an empty reason means
    "not judged this time" (the learner keeps the previous reason).
    """

    def judge(
        self, window: PrequentialWindow, serving: Thresholds, updates_since_promotion: int
    ) -> Judgement: ...


@dataclass(frozen=True)
class MarginGuardrail:
    """Promote a challenger that is not worse than the champion by more than `margin`, in
    PR-AUC and in recall at REVIEW, on at least `min_labels` labels and `min_frauds` frauds
    scored since the last promotion."""

    margin: float
    min_labels: int
    min_frauds: int

    def judge(
        self, window: PrequentialWindow, serving: Thresholds, updates_since_promotion: int
    ) -> Judgement:
        champion, challenger = window.metrics(serving.review, since_promotion=True)

        def answer(promote: bool, refused: bool, reason: str) -> Judgement:
            return Judgement(promote, refused, reason, champion, challenger)

        if updates_since_promotion == 0:
            return answer(False, False, "nothing learned since the last promotion")
        if challenger.labels < self.min_labels or challenger.frauds < self.min_frauds:
            return answer(
                False,
                False,
                f"window holds {challenger.labels} labels and {challenger.frauds} frauds; "
                f"needs {self.min_labels} and {self.min_frauds}",
            )
        if challenger.frauds == challenger.labels:
            return answer(False, False, "window holds no LEGIT label")
        if challenger.pr_auc < champion.pr_auc - self.margin:
            return answer(
                False,
                True,
                f"challenger PR-AUC {challenger.pr_auc:.4f} < champion {champion.pr_auc:.4f} "
                f"- margin {self.margin}",
            )
        if challenger.recall < champion.recall - self.margin:
            return answer(
                False,
                True,
                f"challenger recall {challenger.recall:.4f} < champion {champion.recall:.4f} "
                f"- margin {self.margin}",
            )
        return answer(
            True,
            False,
            f"challenger PR-AUC {challenger.pr_auc:.4f} recall {challenger.recall:.4f} vs "
            f"champion {champion.pr_auc:.4f} / {champion.recall:.4f}",
        )
