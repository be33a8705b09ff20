"""How much an analyst verdict counts: doubtful and conflicting verdicts weigh less."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from fraudstream.learner.evidence import LabeledOutcome

# A champion this sure of itself is rarely wrong; a verdict against it is more often a slip.
CONFIDENT_FRAUD_RISK = 0.99
CONFIDENT_LEGIT_RISK = 0.01
# Weight of a verdict that contradicts a confident champion. Not zero: the champion can be
# wrong, and a zero would hide exactly the errors a challenger is meant to fix.
CONTRADICTION_WEIGHT = 0.25


def contradicts_confident_champion(fraud: bool, champion_risk: float) -> bool:
    """Whether the verdict says the opposite of a champion that was nearly certain:
    LEGIT at risk >= CONFIDENT_FRAUD_RISK, or FRAUD at risk <= CONFIDENT_LEGIT_RISK.
    Such verdicts are the ones worth a second look by another analyst."""
    if fraud:
        return champion_risk <= CONFIDENT_LEGIT_RISK
    return champion_risk >= CONFIDENT_FRAUD_RISK


def verdict_weight(fraud: bool, champion_risk: float) -> float:
    """Trust in one verdict: CONTRADICTION_WEIGHT if it contradicts a confident champion,
    else 1.

    Why it is safe: with analyst error rate e, a verdict against a champion at risk
    >= 0.99 is wrong with probability about e / (e + 0.01), i.e. most of the time for
    e >= 3%. Down-weighting those verdicts favours the champion only on events where it was
    nearly certain, which makes promotion (slightly) harder, never easier.
    """
    return CONTRADICTION_WEIGHT if contradicts_confident_champion(fraud, champion_risk) else 1.0


def resolve_verdicts(verdicts: Sequence[bool]) -> list[tuple[bool, float]]:
    """The (verdict, weight) pairs one event contributes when analysts gave `verdicts`.

    Each distinct verdict counts with its share of the votes: unanimous -> [(v, 1.0)];
    FRAUD, LEGIT -> both at 0.5; FRAUD, FRAUD, LEGIT -> FRAUD at 2/3 and LEGIT at 1/3. The
    event's total weight stays 1, so a disputed event neither vanishes nor counts twice;
    the majority dominates without the minority being thrown away.
    """
    if not verdicts:
        return []
    votes = Counter(bool(v) for v in verdicts)
    return [(verdict, count / len(verdicts)) for verdict, count in sorted(votes.items())]


def combined_weight(fraud: bool, share: float, champion_risk: float) -> float:
    """The trust weight of a verdict holding `share` of its event's votes: the product of
    the vote share and `verdict_weight`."""
    return share * verdict_weight(fraud, champion_risk)


def event_outcomes(
    verdicts: Sequence[bool],
    kind: str,
    propensity: float,
    champion_risk: float,
    challenger_risk: float,
    label_time: float,
    review: float,
    block: float,
) -> list[LabeledOutcome]:
    """The labeled outcomes of one event from all its analysts' verdicts, each weighted by
    its vote share times `verdict_weight`: what the learner feeds to `LabeledSample.of`."""
    return [
        LabeledOutcome(
            fraud=fraud,
            kind=kind,
            propensity=propensity,
            champion_risk=champion_risk,
            challenger_risk=challenger_risk,
            label_time=label_time,
            review=review,
            block=block,
            weight=combined_weight(fraud, share, champion_risk),
        )
        for fraud, share in resolve_verdicts(verdicts)
    ]
