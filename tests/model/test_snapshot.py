"""Snapshots are sealed with a checksum and refused for every kind of damage."""

from __future__ import annotations

import math

import pytest

from fraudstream.model.snapshot import SnapshotRejected, check_snapshot, seal, snapshot_checksum
from fraudstream.v1 import model_pb2

INPUTS = ["log_amount", "orig_emptied", "isolation_forest_score"]
SCHEMA = "a" * 64


def _snapshot(**changes) -> model_pb2.ModelSnapshot:
    snapshot = model_pb2.ModelSnapshot(
        version=3,
        bundle_version="b1",
        feature_schema_hash=SCHEMA,
        scaler=model_pb2.StandardScaler(mean=[1.0, 0.5, 0.2], scale=[2.0, 0.5, 0.1]),
        classifier=model_pb2.LinearModel(
            input_names=INPUTS, coefficients=[0.3, 2.0, 1.0], intercept=-4.0
        ),
        thresholds=model_pb2.Thresholds(review=0.5, block=0.9),
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
