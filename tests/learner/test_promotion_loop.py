"""Promotion on evidence through the learner loop: real label batches of alerts and audits."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from fraudstream.learner.challenger import ChallengerWeights
from fraudstream.learner.store import LearnerState, SnapshotStore
from fraudstream.model.linear import LinearModel
from fraudstream.v1 import alert_pb2, score_pb2

BATCH = 32
# The seeded fault must still be there when it is judged: learn slowly.
SLOW = 1e-3


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _seed_flagging_challenger(
    directory: Path, baseline, traffic, legit_share: float
) -> LinearModel:
    """Save a state whose challenger is the champion with its log-odds raised so it flags
    `legit_share` of legitimate traffic. A uniform shift keeps the ranking: on the alerts it
    flags exactly what the champion flags, so precision and recall on alerts tie."""
    champion = baseline.classifier
    inputs = traffic.ensemble.score(traffic.features).classifier_inputs
    legit_logit = champion.logit(inputs[~traffic.fraud])
    shift = _logit(baseline.thresholds.review) - float(np.quantile(legit_logit, 1 - legit_share))
    state = LearnerState.start(baseline.bundle_version, baseline.feature_schema_hash, champion)
    state.challenger = ChallengerWeights(
        champion.coefficients.tolist(), float(champion.intercept) + shift
    )
    SnapshotStore(directory).save_state(state)
    return LinearModel(
        champion.input_names,
        champion.mean,
        champion.scale,
        champion.coefficients,
        champion.intercept + shift,
    )


def _alert_precision(model: LinearModel, review: float, traffic, rows: np.ndarray) -> float:
    inputs = traffic.ensemble.score(traffic.features[rows]).classifier_inputs
    flagged = model.risk(inputs) >= review
    return float(traffic.fraud[rows][flagged].mean())


def test_a_challenger_flagging_audited_legits_is_refused_though_it_ties_on_alerts(
    make_learner, traffic, tmp_path
):
    rows = np.arange(traffic.fraud.size)
    examples = traffic.labels(rows)
    under = make_learner(
        tmp_path / "evidence", batch_size=BATCH, learning_rate=SLOW, window_size=2000
    )
    baseline = under.learner.baseline
    challenger = _seed_flagging_challenger(tmp_path / "evidence", baseline, traffic, 0.05)
    under = make_learner(
        tmp_path / "evidence", batch_size=BATCH, learning_rate=SLOW, window_size=2000
    )
    # On the alerts it ties with the champion: the labels nobody audited are where it loses.
    batch = under.read(examples)
    alerts = ~batch.audit
    review = baseline.thresholds.review
    assert np.array_equal(
        challenger.risk(batch.inputs[alerts]) >= review,
        baseline.classifier.risk(batch.inputs[alerts]) >= review,
    )
    assert int((challenger.risk(batch.inputs[batch.audit]) >= review).sum()) >= 20

    for start in range(0, len(examples), BATCH):
        under.feed(examples[start : start + BATCH])

    status = under.learner.status()
    assert status.promotions == 0 and under.promoted == []
    assert status.refusals >= 1
    assert "IPW precision" in status.last_judgement, status.last_judgement
    metrics = under.metrics.registry
    refused = {"outcome": "refuse", "cause": "precision_lower_bound"}
    assert metrics.get_sample_value("learner_promotion_judgements_total", refused) >= 1
    promoted = {"outcome": "promote", "cause": "not_worse"}
    assert metrics.get_sample_value("learner_promotion_judgements_total", promoted) is None
    champion_precision = metrics.get_sample_value(
        "learner_ipw_precision", {"model": "champion", "bound": "estimate"}
    )
    challenger_precision = metrics.get_sample_value(
        "learner_ipw_precision", {"model": "challenger", "bound": "high"}
    )
    assert challenger_precision < champion_precision
    assert status.challenger_estimate is not None and status.challenger_estimate.audits >= 50


def test_the_same_challenger_promoted_by_the_margin_rule_is_rolled_back_automatically(
    make_learner, traffic, tmp_path, caplog
):
    """The old window test sees a tie (same ranking, same recall) and promotes; the labels
    after the promotion show its precision fell, and the learner rolls back by itself."""
    half = traffic.fraud.size // 2
    examples = traffic.labels(np.arange(half))
    config = dict(
        batch_size=BATCH,
        learning_rate=SLOW,
        window_size=2000,
        promotion_rule="margin",
        min_window_frauds=10,
        rollback_min_labels=100,
        rollback_min_flagged=5,
    )
    under = make_learner(tmp_path / "margin", **config)
    _seed_flagging_challenger(tmp_path / "margin", under.learner.baseline, traffic, 0.10)
    under = make_learner(tmp_path / "margin", **config)
    bundle = under.learner.baseline
    with caplog.at_level(logging.WARNING, logger="fraudstream.learner"):
        for start in range(0, len(examples), BATCH):
            under.feed(examples[start : start + BATCH])

    status = under.learner.status()
    assert status.promotions >= 1
    assert status.rollbacks >= 1
    record = status.last_rollback
    assert record is not None and record.automatic
    assert "IPW precision since the promotion" in record.reason
    assert (
        under.metrics.registry.get_sample_value(
            "learner_rollbacks_total", {"reason": "precision_drop"}
        )
        == status.rollbacks
    )
    assert any("automatic rollback" in r.getMessage() for r in caplog.records)
    # What serves at the end is no worse than the bundle on traffic no label came from.
    held_out = np.arange(half, traffic.fraud.size)
    served = _alert_precision(
        under.learner.champion, under.learner.serving_thresholds.review, traffic, held_out
    )
    assert served >= _alert_precision(
        bundle.classifier, bundle.thresholds.review, traffic, held_out
    )


def test_each_label_carries_its_selection_probability_or_falls_back_by_kind(make_learner, traffic):
    rows = (
        np.flatnonzero(traffic.alerted)[:2].tolist() + np.flatnonzero(traffic.audited)[:2].tolist()
    )
    examples = traffic.labels(np.sort(np.asarray(rows)))
    # Entries written before the field existed carry 0: alerts fall back to 1, audits to
    # the configured audit rate.
    for example in examples[::2]:
        example.selection_probability = 0.0
    reader = make_learner().reader
    batch = reader.read(examples)
    expected = [
        (0.002 if e.kind == alert_pb2.ALERT_KIND_AUDIT else 1.0)
        if e.selection_probability == 0
        else e.selection_probability
        for e in examples
    ]
    assert batch.propensity.tolist() == expected
    assert batch.audit.tolist() == [e.kind == alert_pb2.ALERT_KIND_AUDIT for e in examples]


def test_the_evidence_compares_the_ensembles_risks_with_the_classifier_swapped(
    make_learner, traffic, tmp_path
):
    """The risks judged are the whole ensemble's as a scorer serves it: the bundle's for the
    champion, and the bundle's ensemble with the challenger's classifier for the challenger."""
    rows = np.flatnonzero(traffic.alerted | traffic.audited)[:96]
    examples = traffic.labels(rows)
    under = make_learner(tmp_path / "s", batch_size=BATCH)
    under.feed(examples[:64])  # the challenger has learned from two chunks
    challenger = under.learner._challenger.linear()
    under.feed(examples[64:])  # scored by that challenger, then learned from
    sample = under.learner._window.sample(under.learner.serving_thresholds)
    features = traffic.features[rows[64:]]
    champion_risk = traffic.ensemble.score(features).risk
    challenger_risk = traffic.ensemble.with_classifier(challenger).score(features).risk
    # Relative tolerance only: most risks are tiny, and they are what audits weigh.
    assert np.allclose(sample.champion_risk[-32:], champion_risk, rtol=1e-9, atol=0)
    assert np.allclose(sample.challenger_risk[-32:], challenger_risk, rtol=1e-9, atol=0)
    assert not np.allclose(champion_risk, challenger_risk, rtol=1e-6, atol=0)


def _production_labels(stream) -> list[alert_pb2.LabeledExample]:
    """The drift stream as production labels it: alerts at propensity 1; among non-alerts,
    missed frauds reported back (all of them) and legits from a uniform sample (LEGIT_PER_FRAUD
    per fraud, about 2% of the legit traffic)."""
    examples = []
    for example in stream.examples:
        labeled = alert_pb2.LabeledExample()
        labeled.CopyFrom(example)
        labeled.selection_probability = 1.0
        if example.score.decision == score_pb2.DECISION_ALLOW:
            labeled.kind = alert_pb2.ALERT_KIND_AUDIT
            if example.verdict == alert_pb2.VERDICT_LEGIT:
                labeled.selection_probability = 0.02
        examples.append(labeled)
    return examples


def test_a_challenger_better_on_the_evidence_is_promoted_and_kept(
    make_learner, drift_stream, tmp_path
):
    """A challenger that knows the new fraud pattern the bundle misses, and is as precise on
    the traffic, is promoted by the evidence rule (default minimums), kept by the rollback
    watch, and the served model catches the pattern. The challenger is a logistic regression
    fitted on the stream (better by construction), held still by a tiny learning rate."""
    examples = _production_labels(drift_stream)
    config = dict(batch_size=BATCH, learning_rate=1e-9)
    under = make_learner(tmp_path / "better", **config)
    bundle = under.learner.baseline
    everything = under.read(examples)
    champion = bundle.classifier
    standardised = (everything.inputs - champion.mean) / champion.scale
    fitted = LogisticRegression(C=10.0, max_iter=2000).fit(standardised, everything.fraud)
    state = LearnerState.start(bundle.bundle_version, bundle.feature_schema_hash, champion)
    state.challenger = ChallengerWeights(fitted.coef_[0].tolist(), float(fitted.intercept_[0]))
    SnapshotStore(tmp_path / "better").save_state(state)
    under = make_learner(tmp_path / "better", **config)
    # From a little before the new pattern: the evidence then holds frauds the champion misses.
    first = int(np.flatnonzero(drift_stream.drift_fraud)[0]) - 100
    for start in range(first, len(examples), BATCH):
        under.feed(examples[start : start + BATCH])

    status = under.learner.status()
    assert status.promotions >= 1 and status.rollbacks == 0, status.last_judgement
    promoted = {"outcome": "promote", "cause": "not_worse"}
    assert (
        under.metrics.registry.get_sample_value("learner_promotion_judgements_total", promoted)
        == status.promotions
    )
    drift = under.read(drift_stream.new_pattern())
    review = under.learner.serving_thresholds.review
    bundle_recall = float(np.mean(champion.risk(drift.inputs) >= bundle.thresholds.review))
    served_recall = float(np.mean(under.learner.champion.risk(drift.inputs) >= review))
    assert served_recall >= 0.8 > bundle_recall
