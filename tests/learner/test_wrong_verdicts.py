"""The promotion rule on a simulated stationary stream with 3% and 10% wrong verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.learner.evidence import LabeledSample
from fraudstream.learner.promotion import PromotionRule
from fraudstream.learner.verdicts import verdict_weight

TRANSACTIONS = 100_000
FRAUD_RATE = 0.01
AUDIT_RATE = 0.02
REVIEW, BLOCK = 0.5, 0.9
SEEDS = range(12)
# The champion separates fraud by this many noise standard deviations.
CHAMPION_SEPARATION = 3.0


def simulate(seed: int, challenger_separation: float, wrong_verdicts: float) -> LabeledSample:
    """One period of traffic, labeled as the pipeline labels it.

    Both models score a latent signal (fraud shifts it by `separation`) with correlated
    noise; risk = sigmoid(2 (signal - separation / 2 - 1.5)) so most legit traffic sits well
    below the review threshold. Every champion alert is labeled, non-alerts with
    probability AUDIT_RATE; each verdict is flipped with probability `wrong_verdicts`.
    """
    rng = np.random.default_rng(seed)
    fraud = rng.random(TRANSACTIONS) < FRAUD_RATE
    shared = rng.normal(size=TRANSACTIONS)
    own = rng.normal(size=TRANSACTIONS)
    champion = _risk(fraud * CHAMPION_SEPARATION + shared, CHAMPION_SEPARATION)
    challenger_noise = 0.8 * shared + 0.6 * own
    challenger = _risk(fraud * challenger_separation + challenger_noise, challenger_separation)
    alert = champion >= REVIEW
    audit = ~alert & (rng.random(TRANSACTIONS) < AUDIT_RATE)
    labeled = alert | audit
    verdict = fraud ^ (rng.random(TRANSACTIONS) < wrong_verdicts)
    verdict, champion, challenger, audit = (
        verdict[labeled],
        champion[labeled],
        challenger[labeled],
        audit[labeled],
    )
    weight = np.array(
        [verdict_weight(bool(v), float(r)) for v, r in zip(verdict, champion, strict=True)]
    )
    n = verdict.shape[0]
    return LabeledSample(
        fraud=verdict,
        audit=audit,
        propensity=np.where(audit, AUDIT_RATE, 1.0),
        weight=weight,
        champion_risk=champion,
        challenger_risk=challenger,
        label_time=np.zeros(n),
        review=np.full(n, REVIEW),
        block=np.full(n, BLOCK),
    )


def _risk(signal: np.ndarray, separation: float) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-2.0 * (signal - separation / 2.0 - 1.5))))


RULE = PromotionRule(margin=0.0, resamples=200)


def promotions(challenger_separation: float, wrong_verdicts: float) -> int:
    return sum(
        RULE.judge(simulate(seed, challenger_separation, wrong_verdicts)).promote for seed in SEEDS
    )


@pytest.mark.parametrize("wrong_verdicts", [0.03, 0.10])
@pytest.mark.parametrize("separation", [2.5, 2.85])
def test_a_worse_challenger_is_never_promoted(separation: float, wrong_verdicts: float) -> None:
    assert promotions(separation, wrong_verdicts) == 0


@pytest.mark.parametrize("wrong_verdicts", [0.03, 0.10])
def test_a_better_challenger_can_be_promoted(wrong_verdicts: float) -> None:
    assert promotions(4.0, wrong_verdicts) >= 3
