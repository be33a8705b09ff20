"""The guardrail: MarginGuardrail's answers, and any Guardrail deciding the learner's promotions."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.learner.guardrail import Judgement, MarginGuardrail
from fraudstream.learner.window import PrequentialWindow
from fraudstream.model.ensemble import Thresholds

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
