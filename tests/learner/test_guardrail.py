"""The guardrail: MarginGuardrail's answers, and any Guardrail deciding the learner's promotions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fraudstream.learner.evidence_guardrail import EvidenceGuardrail
from fraudstream.learner.guardrail import Judgement, MarginGuardrail
from fraudstream.learner.promotion import PromotionRule
from fraudstream.learner.window import PrequentialWindow
from fraudstream.model.scores import Thresholds

BATCH = 32
REVIEW = 0.5
SERVING = Thresholds(REVIEW, 0.9)


def _window(fraud: list[int], champion: list[float], challenger: list[float]) -> PrequentialWindow:
    window = PrequentialWindow(100)
    window.add(np.asarray(fraud, dtype=bool), np.asarray(champion), np.asarray(challenger))
    return window


# Six labels, two frauds; the champion ranks them perfectly, a bad challenger backwards.
FRAUD = [1, 0, 0, 1, 0, 0]
GOOD = [3.0, -3.0, -2.0, 2.0, -1.0, -4.0]
BAD = [-3.0, 3.0, 2.0, -2.0, 1.0, 4.0]
# Ranks as well as the champion but gives every fraud a risk under REVIEW.
TIMID = [-0.5, -3.0, -2.0, -0.6, -1.0, -4.0]


@pytest.mark.parametrize(
    ("challenger", "updates", "promote", "refused", "reason"),
    [
        (GOOD, 0, False, False, "nothing learned since the last promotion"),
        (GOOD, 1, True, False, "challenger PR-AUC 1.0000 recall 1.0000"),
        (BAD, 1, False, True, "challenger PR-AUC 0.2667 < champion 1.0000 - margin 0.02"),
        (TIMID, 1, False, True, "challenger recall 0.0000 < champion 1.0000 - margin 0.02"),
    ],
    ids=["nothing learned", "as good", "worse ranking", "worse recall"],
)
def test_the_margin_guardrail_promotes_a_challenger_not_worse_than_the_champion(
    challenger, updates, promote, refused, reason
):
    guardrail = MarginGuardrail(margin=0.02, min_labels=6, min_frauds=2)
    judgement = guardrail.judge(_window(FRAUD, GOOD, challenger), SERVING, updates)
    assert (judgement.promote, judgement.refused) == (promote, refused)
    assert judgement.reason.startswith(reason)
    assert (judgement.champion.pr_auc, judgement.champion.labels) == (1.0, 6)


def test_the_margin_guardrail_waits_for_enough_evidence():
    guardrail = MarginGuardrail(margin=0.02, min_labels=7, min_frauds=2)
    judgement = guardrail.judge(_window(FRAUD, GOOD, BAD), SERVING, 1)
    assert not judgement.promote and not judgement.refused
    assert judgement.reason == "window holds 6 labels and 2 frauds; needs 7 and 2"


class EveryThirdUpdate:
    """A stand-in policy: promote after every third update, whatever the window says."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, float, int]] = []

    def judge(
        self, window: PrequentialWindow, serving: Thresholds, updates_since_promotion: int
    ) -> Judgement:
        self.asked.append((len(window), serving.review, updates_since_promotion))
        champion, challenger = window.metrics(serving.review, since_promotion=True)
        promote = updates_since_promotion == 3
        return Judgement(promote, False, f"{updates_since_promotion} updates", champion, challenger)


def test_the_learner_promotes_exactly_when_its_guardrail_says_so(make_learner, drift_stream):
    guardrail = EveryThirdUpdate()
    under = make_learner(guardrail=guardrail, batch_size=BATCH, window_size=100)
    batches = drift_stream.batches(BATCH)[:10]
    for batch in batches:
        under.feed(batch)
    review = under.learner.baseline.thresholds.review
    # Asked once per chunk, after the chunk was scored and before it was learned from.
    assert [asked[1:] for asked in guardrail.asked] == [
        (review, n) for n in (0, 1, 2, 3, 1, 2, 3, 1, 2, 3)
    ]
    assert [asked[0] for asked in guardrail.asked] == [min(BATCH * n, 100) for n in range(1, 11)]
    assert [snapshot.version for snapshot in under.promoted] == [1, 2, 3]
    # Each promoted snapshot learned up to the chunk before the one that proved it.
    assert [snapshot.label_position for snapshot in under.promoted] == [
        batches[n][-1].position for n in (2, 5, 8)
    ]
    status = under.learner.status()
    assert (status.promotions, status.refusals, status.last_judgement) == (3, 0, "3 updates")


def _evidence_window() -> PrequentialWindow:
    """300 alerts (200 frauds) and 300 audited legits at selection probability 0.02.

    The challenger ranks like the champion but clears 50 of the 100 alerted legits (log-odds
    -1 instead of +1): better precision, same recall, and a lower alert rate.
    """
    fraud = np.r_[np.ones(200), np.zeros(100), np.zeros(300)].astype(bool)
    champion = np.r_[np.full(200, 3.0), np.full(100, 1.0), np.full(300, -5.0)]
    challenger = np.r_[np.full(200, 3.0), np.full(50, -1.0), np.full(50, 1.0), np.full(300, -5.0)]
    propensity = np.r_[np.ones(300), np.full(300, 0.02)]
    audit = np.r_[np.zeros(300), np.ones(300)].astype(bool)
    window = PrequentialWindow(1000)
    window.add(fraud, champion, challenger, propensity, audit)
    return window


def test_the_evidence_guardrail_does_not_lower_a_threshold_to_keep_the_alert_rate():
    """Better precision, same recall: the rate match would bring the cleared alerts back
    at review 0.269, below the serving 0.5, where the challenger's flags on the traffic
    nobody alerted are seen only through audits. It waits rather than promote there."""
    guardrail = EvidenceGuardrail(PromotionRule(), judge_every=100)
    judgement = guardrail.judge(_evidence_window(), SERVING, 1)
    assert not judgement.promote and not judgement.refused
    assert judgement.evidence is not None
    assert judgement.evidence.precision_difference.estimate > 0
    assert judgement.cause == "rate_unresolved"
    assert "lower the challenger's review to 0.2689" in judgement.reason


def test_the_evidence_guardrail_judges_once_per_judge_every_labels():
    window = _evidence_window()  # 600 labels in one add: it met the minimum evidence
    guardrail = EvidenceGuardrail(PromotionRule(), judge_every=1000)
    # The look a wait for evidence postponed happens when the minimum is met...
    assert guardrail.judge(window, SERVING, 1).reason != ""
    window.add(np.array([False]), np.array([-5.0]), np.array([-5.0]), np.ones(1), np.zeros(1))
    # ...after that only every judge_every labels.
    assert guardrail.judge(window, SERVING, 1).reason == ""  # not due: not judged
    assert guardrail.judge(window, SERVING, 0).reason == ""  # nothing learned


def test_a_look_postponed_for_evidence_happens_when_the_minimum_is_met():
    rule = PromotionRule(min_labels=100, min_frauds=1, min_audits=0)
    guardrail = EvidenceGuardrail(rule, judge_every=1000)
    window = PrequentialWindow(1000)
    looks = []
    for _ in range(8):  # 8 adds of 30 labels: the minimum of 100 is met by the 4th
        fraud = np.arange(30) % 3 == 0
        window.add(fraud, np.where(fraud, 5.0, -5.0), np.where(fraud, 5.0, -5.0))
        looks.append(guardrail.judge(window, SERVING, 1).reason != "")
    assert looks == [False, False, False, True, False, False, False, False]


def test_a_promoted_snapshot_serves_with_the_thresholds_the_guardrail_chose(
    make_learner, drift_stream
):
    chosen = Thresholds(0.3, 0.8)

    class WithThresholds(EveryThirdUpdate):
        def judge(self, window, serving, updates_since_promotion):
            judgement = super().judge(window, serving, updates_since_promotion)
            return dataclasses.replace(judgement, thresholds=chosen)

    under = make_learner(guardrail=WithThresholds(), batch_size=BATCH)
    for batch in drift_stream.batches(BATCH)[:4]:
        under.feed(batch)
    (snapshot,) = under.promoted  # after the third update
    assert (snapshot.thresholds.review, snapshot.thresholds.block) == (0.3, 0.8)
    assert under.learner.serving_thresholds == chosen


def test_a_rate_match_the_labels_cannot_resolve_waits():
    """The challenger clears the 20 legit alerts (better precision, same recall), so it must
    be rate-matched. Its 30 audits (500 events each) rank between its frauds and the cleared
    alerts: no threshold flags the champion's 40 of 15,040 events' worth, only 20 or 520.
    Promoting at the nearest one would halve the alert rate; it waits instead."""
    fraud = np.r_[np.ones(20), np.zeros(20), np.zeros(30)].astype(bool)
    champion = np.r_[np.full(20, 3.0), np.full(20, 1.0), np.full(30, -5.0)]
    challenger = np.r_[np.full(20, 3.0), np.full(20, -1.4), np.full(30, -0.4)]
    propensity = np.r_[np.ones(40), np.full(30, 0.002)]
    audit = np.r_[np.zeros(40), np.ones(30)].astype(bool)
    window = PrequentialWindow(1000)
    window.add(fraud, champion, challenger, propensity, audit)
    judgement = EvidenceGuardrail(PromotionRule(), judge_every=100).judge(window, SERVING, 1)
    assert not judgement.promote and not judgement.refused
    assert judgement.cause == "rate_unresolved", judgement.reason
    assert "cannot resolve the champion's alert rate 0.00266" in judgement.reason


def test_a_rate_match_on_saturated_risks_waits():
    """The challenger clears the legit alerts and gives its frauds risks saturated to 1.0
    (log-odds 40); its audits rank next. The nearest rate the labels allow is at a review of
    1, which cannot rank the traffic they stand for: it waits rather than serve at 1."""
    fraud = np.r_[np.ones(20), np.zeros(20), np.zeros(30)].astype(bool)
    champion = np.r_[np.full(20, 3.0), np.full(20, 1.0), np.full(30, -5.0)]
    challenger = np.r_[np.full(20, 40.0), np.full(20, -3.0), np.full(30, -1.0)]
    propensity = np.r_[np.ones(40), np.full(30, 0.002)]
    window = PrequentialWindow(1000)
    window.add(fraud, champion, challenger, propensity, propensity < 1.0)
    guardrail = EvidenceGuardrail(PromotionRule(), judge_every=100)
    judgement = guardrail.judge(window, SERVING, 1)
    assert not judgement.promote and judgement.cause == "rate_unresolved", judgement.reason
    assert "rate-matched review is 1" in judgement.reason


def test_a_rate_match_below_the_serving_review_waits():
    """The challenger ranks like the champion but with lower risks: matching the champion's
    rate on the labels would lower its review below the serving one, into traffic nobody
    alerted, seen only through 30 audits. It waits."""
    fraud = np.r_[np.ones(20), np.zeros(20), np.zeros(30)].astype(bool)
    champion = np.r_[np.full(20, 3.0), np.full(20, 1.0), np.full(30, -5.0)]
    challenger = np.r_[np.full(20, 3.0), np.full(20, -1.0), np.full(30, -9.0)]
    propensity = np.r_[np.ones(40), np.full(30, 0.002)]
    window = PrequentialWindow(1000)
    window.add(fraud, champion, challenger, propensity, propensity < 1.0)
    judgement = EvidenceGuardrail(PromotionRule(), judge_every=100).judge(window, SERVING, 1)
    assert not judgement.promote and judgement.cause == "rate_unresolved", judgement.reason
    assert "below the serving 0.5000" in judgement.reason
