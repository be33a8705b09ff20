"""Snapshots carry a LinearModel exactly, are sealed with a checksum, and refused when damaged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fraudstream.model.linear import LinearModel
from fraudstream.model.scores import Thresholds
from fraudstream.model.snapshot import (
    SnapshotRejected,
    check_snapshot,
    linear_from_snapshot,
    seal,
    snapshot_checksum,
    snapshot_of,
    thresholds_from_snapshot,
)
from fraudstream.v1 import model_pb2

INPUTS = ["log_amount", "orig_emptied", "isolation_forest_score"]
SCHEMA = "a" * 64
CLASSIFIER = LinearModel(
    input_names=tuple(INPUTS),
    mean=np.array([1.0, 0.5, 0.2]),
    scale=np.array([2.0, 0.5, 0.1]),
    coefficients=np.array([0.3, 2.0, 1.0]),
    intercept=-4.0,
)
THRESHOLDS = Thresholds(review=0.5, block=0.9)


def _snapshot(**changes) -> model_pb2.ModelSnapshot:
    snapshot = snapshot_of(
        CLASSIFIER, THRESHOLDS, version=3, bundle_version="b1", feature_schema_hash=SCHEMA
    )
    for path, value in changes.items():
        target = snapshot
        *parents, leaf = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        if isinstance(value, list):
            del getattr(target, leaf)[:]
            getattr(target, leaf).extend(value)
        else:
            setattr(target, leaf, value)
    return seal(snapshot)


def test_a_sealed_snapshot_passes():
    snapshot = _snapshot()
    assert snapshot.checksum == snapshot_checksum(snapshot)
    check_snapshot(snapshot, feature_schema_hash=SCHEMA, input_names=INPUTS)


def test_a_snapshot_carries_the_classifier_and_thresholds_exactly():
    metrics = model_pb2.SnapshotMetrics(pr_auc=0.7, recall=0.8, window_size=50)
    snapshot = snapshot_of(
        CLASSIFIER,
        THRESHOLDS,
        version=3,
        bundle_version="b1",
        feature_schema_hash=SCHEMA,
        label_position=42,
        metrics=metrics,
        created_time=1_700_000_000.5,
    )
    assert snapshot.checksum == snapshot_checksum(snapshot)
    assert (snapshot.version, snapshot.bundle_version, snapshot.label_position) == (3, "b1", 42)
    assert snapshot.metrics == metrics
    assert snapshot.created_time.ToNanoseconds() == 1_700_000_000_500_000_000
    linear = linear_from_snapshot(snapshot)
    assert linear.input_names == CLASSIFIER.input_names
    for name in ("mean", "scale", "coefficients"):
        assert np.array_equal(getattr(linear, name), getattr(CLASSIFIER, name))
    assert linear.intercept == CLASSIFIER.intercept
    assert thresholds_from_snapshot(snapshot) == THRESHOLDS


def test_metrics_and_creation_time_stay_unset_unless_given():
    snapshot = _snapshot()
    assert not snapshot.HasField("metrics")
    assert not snapshot.HasField("created_time")


def test_tampering_breaks_the_checksum():
    snapshot = _snapshot()
    snapshot.classifier.intercept = 5.0
    with pytest.raises(SnapshotRejected, match="checksum"):
        check_snapshot(snapshot, feature_schema_hash=SCHEMA, input_names=INPUTS)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"feature_schema_hash": "b" * 64}, "feature schema"),
        ({"version": 0}, "version must be positive"),
        ({"classifier__coefficients": [0.3, 2.0]}, "wrong dimensions"),
        ({"scaler__mean": [1.0, 0.5, 0.2, 0.0]}, "wrong dimensions"),
        ({"classifier__input_names": ["a", "b", "c"]}, "inputs"),
        ({"classifier__coefficients": [0.3, math.nan, 1.0]}, "non-finite"),
        ({"classifier__intercept": math.inf}, "non-finite"),
        ({"scaler__scale": [2.0, 0.0, 0.1]}, "scale must be positive"),
        ({"thresholds__review": 0.95}, "thresholds"),
    ],
)
def test_every_kind_of_bad_snapshot_is_rejected(changes, reason):
    with pytest.raises(SnapshotRejected, match=reason):
        check_snapshot(_snapshot(**changes), feature_schema_hash=SCHEMA, input_names=INPUTS)
