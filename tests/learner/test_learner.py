"""The learner core without gRPC: test-then-train, the guardrail, snapshots, restarts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from fraudstream.learner.store import SNAPSHOT_DIR, STATE_NAME
from fraudstream.model.ensemble import CLASSIFIER_INPUTS
from fraudstream.model.features import FEATURE_SCHEMA_HASH
from fraudstream.model.signing import Signer, Verifier, make_signing_key
from fraudstream.model.snapshot import check_snapshot, snapshot_checksum
from fraudstream.v1 import alert_pb2

BATCH = 32
# These tests are about the loop's mechanics on an all-alert label stream, which the default
# evidence rule (it needs audit labels) would never promote on: they use the margin guardrail.
MARGIN = "margin"


def _flipped(examples: list[alert_pb2.LabeledExample]) -> list[alert_pb2.LabeledExample]:
    """The same examples with every verdict inverted (label poisoning)."""
    flipped = []
    for example in examples:
        copy = alert_pb2.LabeledExample()
        copy.CopyFrom(example)
        copy.verdict = (
            alert_pb2.VERDICT_LEGIT
            if example.verdict == alert_pb2.VERDICT_FRAUD
            else alert_pb2.VERDICT_FRAUD
        )
        flipped.append(copy)
    return flipped


def _saved_state(directory: Path) -> dict:
    return json.loads((directory / STATE_NAME).read_text())


def test_each_batch_is_scored_before_it_is_learned_from(make_learner, drift_stream, tmp_path):
    # Promote as soon as possible so each snapshot is the challenger that scored the next batch.
    under = make_learner(
        tmp_path / "s",
        batch_size=BATCH,
        min_window_labels=BATCH,
        min_window_frauds=1,
        promotion_rule=MARGIN,
    )
    first, second, third = drift_stream.batches(BATCH)[8:11]  # each holds a fraud
    under.feed(first)
    state = _saved_state(tmp_path / "s")
    bundle_logit = under.learner.baseline.classifier.logit(under.read(first).inputs)
    # Before learning anything, champion and challenger are the bundle's classifier.
    assert state["window"]["challenger_logit"] == pytest.approx(bundle_logit.tolist())
    assert state["window"]["champion_logit"] == pytest.approx(bundle_logit.tolist())

    under.feed(second)
    (promoted,) = under.promoted  # the challenger that learned `first`, tested on `second`
    assert promoted.version == 1
    assert promoted.label_position == first[-1].position
    second_inputs = under.read(second).inputs
    learned_first = under.learner.champion.logit(second_inputs)
    state = _saved_state(tmp_path / "s")
    assert state["window"]["challenger_logit"][-BATCH:] == pytest.approx(learned_first.tolist())
    assert not np.allclose(learned_first, bundle_logit), "learning `first` changed the model"

    under.feed(third)
    # `second` was learned after it was scored: the model that scored it differs from the
    # one that scored `third`.
    state = _saved_state(tmp_path / "s")
    after_second = under.learner.champion.logit(under.read(third).inputs)
    assert state["window"]["challenger_logit"][-BATCH:] == pytest.approx(after_second.tolist())
    assert not np.allclose(under.learner.champion.logit(second_inputs), learned_first)


def test_a_useful_challenger_is_promoted_and_learns_the_new_pattern(make_learner, drift_stream):
    under = make_learner(batch_size=BATCH, promotion_rule=MARGIN)
    drift = under.read(drift_stream.new_pattern())
    bundle_recall = float(np.mean(under.learner.baseline.classifier.risk(drift.inputs) >= 0.5))

    for batch in drift_stream.batches(BATCH):
        under.feed(batch)

    status = under.learner.status()
    versions = [snapshot.version for snapshot in under.promoted]
    assert versions == list(range(1, len(versions) + 1)), "each promotion is the next version"
    assert status.champion_version == versions[-1] == status.promotions >= 3
    assert status.label_position == drift_stream.examples[-1].position
    assert status.labels_seen == len(drift_stream.examples)
    assert status.updates == len(drift_stream.batches(BATCH))
    served_recall = float(np.mean(under.learner.champion.risk(drift.inputs) >= 0.5))
    assert bundle_recall < 0.7, "the bundle must miss much of the new pattern for this test"
    assert served_recall >= 0.8 > bundle_recall
    registry = under.metrics.registry
    assert registry.get_sample_value("online_updates_total") == status.updates
    assert registry.get_sample_value("learner_promotions_total") == status.promotions
    assert registry.get_sample_value("learner_champion_version") == status.champion_version
    frauds = registry.get_sample_value("learner_labels_consumed_total", {"verdict": "fraud"})
    assert (
        frauds
        == status.frauds_seen
        == int(drift_stream.drift_fraud.sum())
        + (status.frauds_seen - int(drift_stream.drift_fraud.sum()))
    )


@pytest.mark.parametrize("margin", [0.02, 1.0], ids=["guarded", "unguarded"])
def test_a_challenger_damaged_by_poisoned_labels_is_not_promoted(
    make_learner, drift_stream, margin
):
    """A burst of flipped verdicts wrecks the challenger; the guardrail keeps it from serving.

    The unguarded run (a margin of 1.0 accepts anything) shows the burst really does damage.
    The guardrail judges on the labels it is given: a burst long enough to fill the evidence
    since the last promotion on its own would look like the truth, as any label would.
    """
    under = make_learner(
        batch_size=BATCH,
        window_size=600,
        promotion_margin=margin,
        learning_rate=5.0,
        promotion_rule=MARGIN,
    )
    everything = under.read(drift_stream.examples)
    served_pr_auc = []
    refusals_before_burst = None
    for index, batch in enumerate(drift_stream.batches(BATCH)):
        poisoned = index in (20, 21)
        if index == 20:
            refusals_before_burst = under.learner.status().refusals
        under.feed(_flipped(batch) if poisoned else batch)
        champion = under.learner.champion
        served_pr_auc.append(
            average_precision_score(everything.fraud, champion.logit(everything.inputs))
        )
    status = under.learner.status()
    bundle = average_precision_score(
        everything.fraud, under.learner.baseline.classifier.logit(everything.inputs)
    )
    if margin < 1.0:
        assert min(served_pr_auc) >= bundle - 0.01, "a damaged challenger was served"
        assert status.refusals > refusals_before_burst
        assert (
            under.metrics.registry.get_sample_value("learner_promotion_refusals_total")
            == status.refusals
        )
        # Every promotion was justified on its own evidence, within the margin.
        for snapshot in under.promoted:
            assert snapshot.metrics.pr_auc >= snapshot.metrics.champion_pr_auc - margin
    else:
        assert min(served_pr_auc) < bundle - 0.04, "the burst should damage an unguarded learner"


def test_promoted_snapshots_are_sealed_saved_and_pass_the_scorers_checks(
    make_learner, drift_stream, tmp_path
):
    under = make_learner(tmp_path / "s", batch_size=BATCH, promotion_rule=MARGIN)
    for batch in drift_stream.batches(BATCH):
        under.feed(batch)
    assert under.promoted
    for snapshot in under.promoted:
        check_snapshot(
            snapshot, feature_schema_hash=FEATURE_SCHEMA_HASH, input_names=CLASSIFIER_INPUTS
        )
        assert snapshot.bundle_version == drift_stream.bundle_version
        saved = under.store.load_snapshot(snapshot.version)
        assert saved == snapshot
        assert saved.checksum == snapshot_checksum(saved)
    assert sorted(p.name for p in (tmp_path / "s" / SNAPSHOT_DIR).iterdir()) == [
        f"v{v:08d}.binpb" for v in range(1, len(under.promoted) + 1)
    ]
    state = _saved_state(tmp_path / "s")
    assert state["champion_version"] == under.promoted[-1].version
    assert state["label_position"] == drift_stream.examples[-1].position


def test_with_a_signing_key_every_promoted_snapshot_is_signed(make_learner, drift_stream, tmp_path):
    private, public = make_signing_key(tmp_path)
    under = make_learner(
        tmp_path / "s", signer=Signer.from_file(private), batch_size=BATCH, promotion_rule=MARGIN
    )
    for batch in drift_stream.batches(BATCH):
        under.feed(batch)
    assert under.promoted
    verifier = Verifier.from_files([public])
    for snapshot in under.promoted:
        check_snapshot(
            snapshot,
            feature_schema_hash=FEATURE_SCHEMA_HASH,
            input_names=CLASSIFIER_INPUTS,
            verifier=verifier,
        )


def test_a_restarted_learner_resumes_with_nothing_lost_or_repeated(
    make_learner, drift_stream, tmp_path
):
    batches = drift_stream.batches(BATCH)
    straight = make_learner(tmp_path / "straight", batch_size=BATCH, promotion_rule=MARGIN)
    for batch in batches:
        straight.feed(batch)

    first = make_learner(tmp_path / "restarted", batch_size=BATCH, promotion_rule=MARGIN)
    for batch in batches[:17]:
        first.feed(batch)
    before = first.learner.status()
    resumed = make_learner(tmp_path / "restarted", batch_size=BATCH, promotion_rule=MARGIN)
    assert resumed.learner.status() == before
    assert resumed.learner.label_position == batches[16][-1].position
    # A label stream replaying what was already applied changes nothing.
    assert resumed.feed(batches[16]) == before.label_position
    assert resumed.learner.status() == before
    for batch in batches[17:]:
        resumed.feed(batch)

    expected, actual = straight.learner.status(), resumed.learner.status()
    assert actual.labels_seen == expected.labels_seen == len(drift_stream.examples)
    assert (actual.champion_version, actual.label_position, actual.updates) == (
        expected.champion_version,
        expected.label_position,
        expected.updates,
    )
    assert np.array_equal(
        resumed.learner.champion.coefficients, straight.learner.champion.coefficients
    )
    assert (
        _saved_state(tmp_path / "restarted")["challenger"]
        == _saved_state(tmp_path / "straight")["challenger"]
    )


def test_examples_served_under_another_schema_are_refused_and_counted(make_learner, drift_stream):
    under = make_learner(batch_size=BATCH)
    batch = [alert_pb2.LabeledExample() for _ in range(3)]
    for copy, example in zip(batch, drift_stream.examples[:3], strict=True):
        copy.CopyFrom(example)
    batch[0].features.schema_hash = "0" * 64
    batch[1].score.model_version = "some-other-bundle+s4"
    position = under.feed(batch)
    assert position == batch[-1].position, "refused labels are consumed, not retried"
    status = under.learner.status()
    assert status.labels_seen == 1
    assert status.refused_examples == {"feature_schema": 1, "bundle": 1}
    registry = under.metrics.registry
    assert (
        registry.get_sample_value("learner_examples_refused_total", {"reason": "feature_schema"})
        == 1
    )
