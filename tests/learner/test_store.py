"""The store saves and loads a LearnerState as state.json, and refuses states it cannot trust."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fraudstream.learner.challenger import ChallengerWeights
from fraudstream.learner.store import STATE_NAME, LearnerState, SnapshotStore, StateError
from fraudstream.learner.window import WindowRecord
from fraudstream.model.linear import LinearModel

# The keys of state.json: a saved state of an older learner must keep loading.
STATE_KEYS = {
    "format",
    "bundle_version",
    "feature_schema_hash",
    "champion_version",
    "label_position",
    "labels_seen",
    "labels",
    "refused_examples",
    "updates",
    "updates_since_promotion",
    "promotions",
    "refusals",
    "last_promotion_time",
    "learned_position",
    "learned_label_time",
    "served_label_time",
    "last_judgement",
    "saved_time",
    "challenger",
    "window",
    "served_versions",
    "rollbacks",
    "last_rollback",
    "labels_since_promotion",
    "rollback_watch",
    "evidence",
}


def _state() -> LearnerState:
    return LearnerState(
        bundle_version="b1",
        feature_schema_hash="a" * 64,
        challenger=ChallengerWeights([0.5, -1.25], 0.75),
        champion_version=3,
        label_position=120,
        labels={"fraud": 9, "legit": 100},
        refused_examples={"bundle": 11},
        updates=4,
        updates_since_promotion=1,
        promotions=3,
        refusals=2,
        last_promotion_time=1_700_000_000.25,
        learned_position=118,
        learned_label_time=1_699_999_999.5,
        served_label_time=1_699_999_990.0,
        last_judgement="window holds 3 labels and 1 frauds; needs 50 and 5",
        saved_time=1_700_000_001.0,
        window=WindowRecord([1, 0, 0], [2.5, -1.0, -3.0], [2.0, -1.5, -2.5], 2),
    )


def test_a_saved_state_loads_back_equal_under_the_same_keys(tmp_path):
    store = SnapshotStore(tmp_path)
    state = _state()
    store.save_state(state)
    assert store.load_state("b1") == state
    body = json.loads((tmp_path / STATE_NAME).read_text())
    assert set(body) == STATE_KEYS
    assert body["format"] == 1
    assert body["labels_seen"] == 109
    assert body["challenger"] == {"coefficients": [0.5, -1.25], "intercept": 0.75}
    assert body["window"] == {
        "fraud": [1, 0, 0],
        "champion_logit": [2.5, -1.0, -3.0],
        "challenger_logit": [2.0, -1.5, -2.5],
        "since_promotion": 2,
        # Saved without selection: they load as alerts of probability 1.
        "propensity": [],
        "audit": [],
        "scored": 0,
    }


def test_a_state_saved_before_rollbacks_existed_loads_with_their_defaults(tmp_path):
    store = SnapshotStore(tmp_path)
    store.save_state(_state())
    body = json.loads((tmp_path / STATE_NAME).read_text())
    for name in ("served_versions", "rollbacks", "last_rollback", "rollback_watch", "evidence"):
        body.pop(name)
    body["window"] = {
        k: body["window"][k]
        for k in ("fraud", "champion_logit", "challenger_logit", "since_promotion")
    }
    (tmp_path / STATE_NAME).write_text(json.dumps(body))
    loaded = store.load_state("b1")
    assert loaded is not None
    assert (loaded.served_versions, loaded.rollbacks, loaded.rollback_watch) == ([0], 0, None)
    assert loaded.window.fraud == [1, 0, 0] and loaded.window.propensity == []


def test_a_new_directory_has_no_state_and_a_start_state_is_the_bundles(tmp_path):
    assert SnapshotStore(tmp_path).load_state("b1") is None
    classifier = LinearModel(("a", "b"), np.zeros(2), np.ones(2), np.array([0.5, 2.0]), -3.0)
    start = LearnerState.start("b1", "a" * 64, classifier)
    assert start.challenger == ChallengerWeights([0.5, 2.0], -3.0)
    assert (start.champion_version, start.label_position, start.labels_seen) == (0, 0, 0)
    assert start.window == WindowRecord.empty()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda body: body.update(bundle_version="b2"), "belongs to bundle b2"),
        (lambda body: body.update(format=2), "not a learner state"),
        (lambda body: body.pop("window"), "window"),
        (lambda body: body["challenger"].pop("intercept"), "intercept"),
    ],
    ids=["other bundle", "other format", "missing field", "missing challenger weight"],
)
def test_a_state_that_cannot_be_trusted_is_refused(tmp_path, damage, reason):
    store = SnapshotStore(tmp_path)
    store.save_state(_state())
    body = json.loads((tmp_path / STATE_NAME).read_text())
    damage(body)
    (tmp_path / STATE_NAME).write_text(json.dumps(body))
    with pytest.raises(StateError, match=reason):
        store.load_state("b1")
