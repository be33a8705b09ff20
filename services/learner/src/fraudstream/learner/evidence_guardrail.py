"""The guardrail the learner runs by default: PromotionRule on IPW estimates of the whole traffic,
then thresholds recalibrated to keep the alert rate."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fraudstream.learner import calibration
from fraudstream.learner.evidence import LabeledSample
from fraudstream.learner.guardrail import Judgement
from fraudstream.learner.intervals import PairedEvidence
from fraudstream.learner.promotion import NO_GAIN, RATE_UNRESOLVED, PromotionRule
from fraudstream.learner.window import PrequentialWindow
from fraudstream.model.scores import Thresholds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvidenceGuardrail:
    """Promote only when the labels show, at the rule's confidence, that the challenger is
    not worse than the champion in IPW precision AND recall on the whole traffic.

    Both models are judged on the same labels (those scored since the last promotion), at
    the champion's serving thresholds, each label weighted by trust / selection probability.
    A challenger that passes is given thresholds matching the champion's alert rate on that
    traffic (unless the labels show the champion missed fraud) and must pass again at its
    rate-matched review threshold: it is promoted only as it will serve. A challenger that
    judges every labeled event as the champion does has shown nothing to gain and waits.

    The rule is asked once per `judge_every` new labels, not after every chunk: each look
    is one more chance for noise to pass a non-inferiority test.
    """

    rule: PromotionRule
    judge_every: int = 100

    def judge(
        self, window: PrequentialWindow, serving: Thresholds, updates_since_promotion: int
    ) -> Judgement:
        champion, challenger = window.metrics(serving.review, since_promotion=True)

        def answer(
            promote: bool,
            refused: bool,
            reason: str,
            evidence: PairedEvidence | None = None,
            thresholds: Thresholds | None = None,
            cause: str = "",
        ) -> Judgement:
            return Judgement(
                promote, refused, reason, champion, challenger, thresholds, evidence, cause
            )

        if updates_since_promotion == 0:
            return answer(False, False, "")
        sample = window.sample(serving, since_promotion=True)
        if not _crossed(window.scored, window.last_added, self.judge_every) and not (
            self._evidence_just_met(sample, window.last_added)
        ):
            return answer(False, False, "")
        at_serving = self.rule.judge(sample)
        if not at_serving.promote:
            return answer(
                False,
                at_serving.refused,
                at_serving.reason,
                at_serving.evidence,
                cause=at_serving.cause,
            )
        evidence = at_serving.evidence
        assert evidence is not None  # a promotion always rests on evidence
        precision_gain = evidence.precision_difference.estimate
        recall_gain = evidence.recall_difference.estimate
        if not (precision_gain > 0.0 or recall_gain > 0.0):
            # Not worse only because it judged the labeled events alike: nothing shown to gain,
            # while its flags on the traffic nobody labeled are unseen. Wait for labels that
            # tell the two apart.
            return answer(
                False,
                False,
                f"no gain shown on {evidence.labels} labels (IPW precision {precision_gain:+.4f}, "
                f"recall {recall_gain:+.4f}): nothing to promote for",
                evidence,
                cause=NO_GAIN,
            )
        choice = calibration.thresholds_after_promotion(
            evidence,
            sample.champion_risk,
            sample.challenger_risk,
            calibration.Thresholds(serving.review, serving.block),
            weights=1.0 / sample.propensity,
        )
        thresholds = _servable(choice.thresholds, serving)
        unresolved = _unresolved_rate(sample, serving, thresholds) if choice.matched else None
        if unresolved is not None:
            return answer(False, False, unresolved, evidence, cause=RATE_UNRESOLVED)
        if thresholds.review != serving.review:
            at_matched = self.rule.judge(sample, challenger_review=thresholds.review)
            if not at_matched.promote:
                return answer(
                    False,
                    at_matched.refused,
                    f"at its rate-matched review {thresholds.review:.4f}: {at_matched.reason}",
                    evidence,
                    cause=f"matched_{at_matched.cause}",
                )
        return answer(
            True,
            False,
            f"{at_serving.reason}; {choice.reason}",
            evidence,
            thresholds,
            at_serving.cause,
        )

    def _evidence_just_met(self, sample: LabeledSample, last_added: int) -> bool:
        """Whether the newest `last_added` labels brought `sample` to the rule's minimum
        evidence. A wait for evidence tests nothing, so it spends none of the looks' error
        budget: the look it postponed happens then, not at the next `judge_every`."""
        before = sample.first(len(sample) - last_added)
        return self.rule.waits_for(sample) is None and self.rule.waits_for(before) is not None


def _unresolved_rate(sample: LabeledSample, serving: Thresholds, matched: Thresholds) -> str | None:
    """Why the rate-matched `matched` thresholds do not keep the champion's alert rate on the
    traffic `sample` stands for, or None when they do (within ALERT_RATE_TOLERANCE).

    Quantile matching on a labeled sample moves in steps of one label's weight: an audit at
    0.002 is 500 events, a share far coarser than the tolerance when the sample holds few
    labels. Nor can it rank risks tied at 1.0 (a confident model saturates): a review of 1
    matches the rate only on the labels, where the frauds it learned from saturate, and
    flags little of the traffic they stand for. And a review below the serving one reaches
    traffic nobody alerted, which the labels see only through a few audits: the match picks
    the challenger's lowest-risk flagged label (0.0001 in a drift run) whatever lies between
    it and the audits. Such thresholds say nothing about the alert rate they will serve, so
    the promotion waits for labels that resolve it, or that show the champion missed fraud
    (then the serving thresholds are kept).
    """
    weights = 1.0 / sample.propensity
    champion_rate = calibration.alert_rate(sample.champion_risk, serving.review, weights)
    if matched.review < serving.review:
        return (
            f"rate-matching would lower the challenger's review to {matched.review:.4f}, below "
            f"the serving {serving.review:.4f}: what it flags there among the traffic nobody "
            "alerted, the labels see only through audits"
        )
    if matched.review >= 1.0:
        return (
            f"the labels cannot resolve the champion's alert rate {champion_rate:.5f}: the "
            "challenger's rate-matched review is 1, where its risks tie saturated"
        )
    matched_rate = calibration.alert_rate(sample.challenger_risk, matched.review, weights)
    if calibration.alert_rate_stable(champion_rate, matched_rate):
        return None
    return (
        f"the labels cannot resolve the champion's alert rate {champion_rate:.5f}: at its "
        f"rate-matched review {matched.review:.4f} the challenger flags {matched_rate:.5f} of "
        f"the traffic they stand for (tolerance {calibration.ALERT_RATE_TOLERANCE:.0%})"
    )


def _crossed(scored: int, last_added: int, every: int) -> bool:
    """Whether the newest `last_added` of `scored` labels crossed a multiple of `every`."""
    return scored // every > (scored - last_added) // every


def _servable(matched: calibration.Thresholds, serving: Thresholds) -> Thresholds:
    """The matched thresholds as served ones; the serving ones if matching produced none a
    scorer would accept (review must be > 0)."""
    if not 0.0 < matched.review <= matched.block <= 1.0:
        logger.warning("rate-matched thresholds %s cannot serve; keeping %s", matched, serving)
        return serving
    return Thresholds(review=matched.review, block=matched.block)
