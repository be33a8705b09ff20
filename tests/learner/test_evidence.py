"""IPW precision and recall, paired intervals, promotion and rollback on hand-made labels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fraudstream.learner.evidence import (
    ALERT,
    AUDIT,
    LabeledOutcome,
    LabeledSample,
    ipw_rates,
    kish_effective_size,
)
from fraudstream.learner.intervals import model_intervals, paired_evidence, rate_intervals
from fraudstream.learner.promotion import PromotionRule, RollbackRule
from fraudstream.learner.verdicts import (
    CONTRADICTION_WEIGHT,
    combined_weight,
    event_outcomes,
    resolve_verdicts,
    verdict_weight,
)

REVIEW, BLOCK = 0.5, 0.9


def outcome(
    fraud: bool,
    kind: str,
    champion: float,
    challenger: float,
    audit_rate: float = 0.01,
    time: float = 0.0,
    weight: float = 1.0,
) -> LabeledOutcome:
    return LabeledOutcome(
        fraud=fraud,
        kind=kind,
        propensity=1.0 if kind == ALERT else audit_rate,
        champion_risk=champion,
        challenger_risk=challenger,
        label_time=time,
        review=REVIEW,
        block=BLOCK,
        weight=weight,
    )


def hand_sample() -> LabeledSample:
    """3 alerts and 2 audits at audit_rate 0.01 (each audit stands for 100 events)."""
    return LabeledSample.of(
        [
            outcome(True, ALERT, 0.9, 0.9),
            outcome(True, ALERT, 0.8, 0.3),
            outcome(False, ALERT, 0.7, 0.2),
            outcome(True, AUDIT, 0.1, 0.6),
            outcome(False, AUDIT, 0.2, 0.7),
        ]
    )


def test_ipw_rates_by_hand() -> None:
    sample = hand_sample()
    champion = ipw_rates(sample.fraud, sample.champion_risk >= REVIEW, sample.ipw)
    # Champion flags the 3 alerts: TP 2, flagged 3; frauds 1 + 1 + 100 (the audited one).
    assert champion.precision == pytest.approx(2 / 3)
    assert champion.recall == pytest.approx(2 / 102)
    challenger = ipw_rates(sample.fraud, sample.challenger_risk >= REVIEW, sample.ipw)
    # Challenger flags alert 1 and both audits: TP 1 + 100, flagged 1 + 100 + 100.
    assert challenger.precision == pytest.approx(101 / 201)
    assert challenger.recall == pytest.approx(101 / 102)


def test_trust_weight_scales_a_label() -> None:
    outcomes = [
        outcome(True, ALERT, 0.9, 0.9),
        outcome(False, ALERT, 0.995, 0.9, weight=verdict_weight(False, 0.995)),
    ]
    sample = LabeledSample.of(outcomes)
    rates = ipw_rates(sample.fraud, sample.champion_risk >= REVIEW, sample.ipw)
    assert rates.precision == pytest.approx(1 / (1 + CONTRADICTION_WEIGHT))


def test_no_flagged_label_has_no_precision() -> None:
    sample = hand_sample()
    rates = ipw_rates(sample.fraud, np.zeros(len(sample), dtype=bool), sample.ipw)
    assert math.isnan(rates.precision) and rates.recall == 0.0


def test_kish_effective_size() -> None:
    assert kish_effective_size(np.ones(10)) == pytest.approx(10)
    # Three alerts and two audits at weight 100: worth about two labels, not five.
    assert kish_effective_size(hand_sample().ipw) == pytest.approx(203**2 / 20003)


def test_outcome_validation() -> None:
    with pytest.raises(ValueError, match="propensity"):
        LabeledSample.of([outcome(True, AUDIT, 0.1, 0.1, audit_rate=0.0)])
    with pytest.raises(ValueError, match="kind"):
        LabeledSample.of([outcome(True, "guess", 0.1, 0.1)])


def test_intervals_cover_the_estimate_and_repeat_with_the_seed() -> None:
    rng = np.random.default_rng(1)
    fraud = rng.random(2000) < 0.3
    flagged = np.where(fraud, rng.random(2000) < 0.8, rng.random(2000) < 0.1)
    ipw = np.ones(2000)
    precision, recall = model_intervals(fraud, flagged, ipw, resamples=300, seed=5)
    assert precision.low < precision.estimate < precision.high
    assert recall.low < recall.estimate < recall.high
    # Binomial standard error of recall ~ sqrt(.8 * .2 / 600) = 0.016: half-width ~ 0.032.
    assert 0.02 < recall.half_width < 0.045
    assert model_intervals(fraud, flagged, ipw, resamples=300, seed=5) == (precision, recall)


def test_identical_models_differ_by_exactly_zero() -> None:
    sample = hand_sample()
    same = LabeledSample(**{**sample.__dict__, "challenger_risk": sample.champion_risk})
    evidence = paired_evidence(same, resamples=100)
    assert (evidence.precision_difference.low, evidence.precision_difference.high) == (0, 0)
    assert (evidence.recall_difference.low, evidence.recall_difference.high) == (0, 0)


def alert_winner_sample(audit_rate: float = 0.002) -> LabeledSample:
    """The challenger is better on alerts but flags audited legit traffic."""
    outcomes = []
    # 60 alerted frauds both models flag; 40 alerted legits: the challenger clears 30.
    outcomes += [outcome(True, ALERT, 0.8, 0.8) for _ in range(60)]
    outcomes += [outcome(False, ALERT, 0.6, 0.3 if i < 30 else 0.6) for i in range(40)]
    # 300 audits: 5 frauds neither flags, 295 legits of which the challenger flags 30.
    outcomes += [outcome(True, AUDIT, 0.1, 0.1, audit_rate) for _ in range(5)]
    outcomes += [outcome(False, AUDIT, 0.1, 0.7 if i < 30 else 0.1, audit_rate) for i in range(295)]
    return LabeledSample.of(outcomes)


def test_refuses_a_challenger_that_wins_on_alerts_but_flags_unalerted_legits() -> None:
    sample = alert_winner_sample()
    on_alerts = ~sample.audit
    champion_alerts = ipw_rates(
        sample.fraud[on_alerts], sample.champion_risk[on_alerts] >= REVIEW, sample.ipw[on_alerts]
    )
    challenger_alerts = ipw_rates(
        sample.fraud[on_alerts],
        sample.challenger_risk[on_alerts] >= REVIEW,
        sample.ipw[on_alerts],
    )
    assert challenger_alerts.precision == pytest.approx(60 / 70)
    assert champion_alerts.precision == pytest.approx(60 / 100)
    # Judged on alerts alone the challenger would be promoted ...
    alerts_only = LabeledSample(**{k: v[on_alerts] for k, v in sample.__dict__.items()})
    assert PromotionRule(min_labels=100, min_audits=0).judge(alerts_only).promote
    # ... but each flagged audited legit stands for 500 flagged events of the traffic.
    judgement = PromotionRule().judge(sample)
    assert not judgement.promote and judgement.refused
    assert "precision" in judgement.reason
    assert judgement.evidence is not None
    assert judgement.evidence.challenger_precision.estimate == pytest.approx(60 / (70 + 30 * 500))


def test_promotion_waits_for_evidence() -> None:
    sample = hand_sample()
    judgement = PromotionRule(min_labels=100).judge(sample)
    assert not judgement.promote and not judgement.refused
    assert "needs 100 and 20" in judgement.reason and judgement.cause == "few_labels"
    no_flagged = PromotionRule(min_frauds=1).judge(sample)
    assert not no_flagged.refused and no_flagged.cause == "few_flagged"
    assert "5 labels either model flagged; needs 20" in no_flagged.reason
    no_audits = PromotionRule(min_frauds=1, min_flagged=1).judge(sample)
    assert not no_audits.refused and "audit" in no_audits.reason
    assert no_audits.cause == "few_audits"


def test_the_minimum_evidence_is_counted_per_estimate_not_in_labels() -> None:
    """20 frauds, 20 flagged and 20 audits are judged though they are 50 labels, not 100;
    one flagged label fewer waits, however many other labels there are."""
    outcomes = [outcome(True, ALERT, 0.9, 0.9) for _ in range(20)]
    outcomes += [outcome(False, AUDIT, 0.1, 0.1) for _ in range(30)]
    judged = PromotionRule().judge(LabeledSample.of(outcomes))
    assert judged.cause not in ("few_labels", "few_flagged", "few_audits"), judged.reason
    assert judged.evidence is not None and judged.evidence.labels == 50
    fewer = outcomes[1:] + [outcome(False, AUDIT, 0.1, 0.1) for _ in range(500)]
    assert PromotionRule().judge(LabeledSample.of(fewer)).cause == "few_labels"
    fewer_flagged = [outcome(True, AUDIT, 0.1, 0.1), *fewer]
    assert PromotionRule().judge(LabeledSample.of(fewer_flagged)).cause == "few_flagged"


def test_promotes_a_challenger_that_is_better_everywhere() -> None:
    outcomes = [outcome(True, ALERT, 0.8, 0.8) for _ in range(60)]
    outcomes += [outcome(False, ALERT, 0.6, 0.3 if i < 30 else 0.6) for i in range(40)]
    # The challenger also catches 10 of the 15 audited frauds the champion missed.
    outcomes += [outcome(True, AUDIT, 0.1, 0.7 if i < 10 else 0.1) for i in range(15)]
    outcomes += [outcome(False, AUDIT, 0.1, 0.1) for _ in range(285)]
    judgement = PromotionRule(min_frauds=20).judge(LabeledSample.of(outcomes))
    assert judgement.promote, judgement.reason


def test_verdict_weight() -> None:
    assert verdict_weight(False, 0.995) == CONTRADICTION_WEIGHT
    assert verdict_weight(True, 0.005) == CONTRADICTION_WEIGHT
    assert verdict_weight(True, 0.995) == 1.0
    assert verdict_weight(False, 0.5) == 1.0


def test_conflicting_verdicts_share_the_event() -> None:
    assert resolve_verdicts([True]) == [(True, 1.0)]
    assert resolve_verdicts([True, False]) == [(False, 0.5), (True, 0.5)]
    assert resolve_verdicts([True, True, False]) == [
        (False, pytest.approx(1 / 3)),
        (True, pytest.approx(2 / 3)),
    ]
    assert resolve_verdicts([]) == []
    assert combined_weight(False, 0.5, 0.999) == 0.5 * CONTRADICTION_WEIGHT


def promoted_sample(bad_alerts: int, promoted_at: float = 100.0) -> LabeledSample:
    """Labels before the promotion (all good) and 100 alerts after it, `bad_alerts` legit."""
    before = [outcome(False, ALERT, 0.9, 0.9, time=1.0) for _ in range(200)]
    after = [outcome(i >= bad_alerts, ALERT, 0.9, 0.9, time=promoted_at + i) for i in range(100)]
    after += [outcome(False, AUDIT, 0.1, 0.1, time=promoted_at + i) for i in range(50)]
    return LabeledSample.of(before + after)


def test_rollback_when_precision_falls_below_the_previous_lower_bound() -> None:
    rule = RollbackRule()
    judgement = rule.judge(promoted_sample(bad_alerts=40), 100.0, previous_precision_low=0.8)
    assert judgement.rollback, judgement.reason
    assert judgement.precision is not None
    # Only the 150 labels after the promotion count, not the 200 legit alerts before it.
    assert judgement.precision.estimate == pytest.approx(0.6)


def test_no_rollback_when_precision_holds() -> None:
    judgement = RollbackRule().judge(promoted_sample(bad_alerts=10), 100.0, 0.8)
    assert not judgement.rollback and "0.9000" in judgement.reason


def test_no_rollback_on_too_little_evidence() -> None:
    sample = promoted_sample(bad_alerts=40)
    judgement = RollbackRule(min_labels=500).judge(sample, 100.0, 0.8)
    assert not judgement.rollback and "needs 500" in judgement.reason
    judgement = RollbackRule(min_flagged=101).judge(sample, 100.0, 0.8)
    assert not judgement.rollback and "100 flagged" in judgement.reason


def test_event_outcomes_weigh_votes_and_doubt() -> None:
    outcomes = event_outcomes([True, False], AUDIT, 0.01, 0.005, 0.2, 7.0, REVIEW, BLOCK)
    weights = {o.fraud: o.weight for o in outcomes}
    # FRAUD against a champion at 0.005 is doubted; LEGIT agrees with it.
    assert weights == {True: 0.5 * CONTRADICTION_WEIGHT, False: 0.5}
    sample = LabeledSample.of(outcomes)
    assert sample.ipw.tolist() == [50.0, 12.5]


def test_since_keeps_later_labels_only() -> None:
    sample = LabeledSample.of([outcome(True, ALERT, 0.9, 0.9, time=t) for t in (1.0, 5.0, 9.0)])
    assert sample.since(5.0).label_time.tolist() == [5.0, 9.0]


def alert_precision_sample(
    seed: int, precision: float, time: float, n: int = 150
) -> list[LabeledOutcome]:
    """n alerts, each FRAUD with probability `precision`, labeled at `time`, plus audits."""
    fraud = np.random.default_rng(seed).random(n) < precision
    outcomes = [outcome(bool(f), ALERT, 0.9, 0.9, time=time) for f in fraud]
    outcomes += [outcome(False, AUDIT, 0.1, 0.1, time=time) for _ in range(50)]
    return outcomes


# The point estimate against an independent lower bound of the same size trips ~8% of the
# time for an equally good model (P(Z < -1.96 / sqrt 2)); docs/learning.md says why that is
# acceptable.
@pytest.mark.parametrize(("after", "most", "least"), [(0.8, 4, 0), (0.6, 20, 18)])
def test_rollback_follows_precision_not_noise(after: float, most: int, least: int) -> None:
    rollbacks = 0
    for seed in range(20):
        before = LabeledSample.of(alert_precision_sample(seed, 0.8, time=0.0))
        baseline, _ = rate_intervals(before.fraud, before.champion_risk >= REVIEW, before.ipw)
        sample = LabeledSample.of(
            alert_precision_sample(seed, 0.8, 0.0)
            + alert_precision_sample(1000 + seed, after, time=10.0)
        )
        rollbacks += RollbackRule().judge(sample, 10.0, baseline.low).rollback
    assert least <= rollbacks <= most
