"""The learner's shadow hook: challengers published every N updates, alert precision watched."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.learner.examples import LabelBatch
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.server import open_deps
from fraudstream.learner.settings import LearnerSettings
from fraudstream.model.drift import PageHinkley
from fraudstream.model.linear import risk_from_logit
from fraudstream.model.snapshot import check_snapshot
from fraudstream.v1 import model_pb2


@pytest.fixture
def deps(model_bundle, tmp_path):
    settings = LearnerSettings(
        port=0,
        models=model_bundle,
        data_dir=tmp_path / "var",
        feedback_addr="",
        batch_size=32,
        challenger_publish_every=3,
    )
    return open_deps(settings, LearnerMetrics())


def test_a_challenger_is_published_every_n_updates(deps, drift_stream):
    published: list[model_pb2.ModelSnapshot] = []
    deps.registry.publish_challenger = published.append  # record instead of pushing
    positions = [deps.learner.apply(deps.reader.read(b)) for b in drift_stream.batches(32)[:7]]
    # After updates 1 (the first batch), 4 and 7.
    assert [s.label_position for s in published] == [positions[0], positions[3], positions[6]]
    for snapshot in published:
        assert snapshot.role == model_pb2.SNAPSHOT_ROLE_CHALLENGER
        baseline = deps.learner.baseline
        check_snapshot(
            snapshot,
            feature_schema_hash=baseline.feature_schema_hash,
            input_names=baseline.classifier.input_names,
        )


def test_a_challenger_is_refused_as_a_champion_by_the_registry(deps):
    snapshot, _updates = deps.learner.challenger_snapshot()
    assert snapshot is not None
    assert deps.learner.challenger_snapshot(after=1) == (None, 0)
    deps.registry.publish_challenger(snapshot)
    champion = model_pb2.ModelSnapshot()
    champion.CopyFrom(snapshot)
    champion.role = model_pb2.SNAPSHOT_ROLE_CHAMPION
    with pytest.raises(ValueError, match="not a challenger"):
        deps.registry.publish_challenger(champion)


def _batch(inputs: np.ndarray, fraud: np.ndarray, start: int) -> LabelBatch:
    n = len(fraud)
    return LabelBatch(
        last_position=start + n,
        inputs=inputs,
        fraud=fraud,
        positions=np.arange(start + 1, start + n + 1),
        label_times=np.full(n, np.nan),
    )


def test_a_drop_in_alert_precision_is_a_drift_event(deps, drift_stream):
    from fraudstream.learner.shadow import ShadowPublisher

    learner, metrics = deps.learner, deps.metrics
    shadow = ShadowPublisher(learner, deps.registry, metrics, every=0, detector=PageHinkley())
    # Labels on transactions the champion flags, at a precision of 0.9 then 0.2.
    inputs = np.concatenate([deps.reader.read(b).inputs for b in drift_stream.batches(32)])
    risk = risk_from_logit(learner.champion.logit(inputs))
    flagged = inputs[risk >= learner.serving_thresholds.review]
    assert len(flagged) >= 20
    rng = np.random.default_rng(3)
    position = 0
    for precision in [0.9] * 10 + [0.2] * 5:
        rows = flagged[rng.integers(0, len(flagged), 40)]
        fraud = rng.random(40) < precision
        shadow.on_batch(_batch(rows, fraud, position))
        position += 40
        if precision == 0.9:
            assert metrics.registry.get_sample_value("learner_label_drift_events_total") == 0
    assert metrics.registry.get_sample_value("learner_label_drift_events_total") >= 1
    assert metrics.registry.get_sample_value("learner_alert_precision") < 0.9
