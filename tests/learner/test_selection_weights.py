"""How a batch's class weight is shared among labels by selection probability."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.learner.challenger import class_weights, selection_weights, training_propensity


def test_a_reported_fraud_outweighs_alerted_ones_and_class_totals_stay() -> None:
    # 3 alerted frauds (propensity 1), 1 fraud the champion missed that came back through
    # an audit at 0.01, and 2 audited legits: the missed fraud stands for 100 frauds.
    fraud = np.array([True, True, True, True, False, False])
    propensity = np.array([1.0, 1.0, 1.0, 0.01, 0.01, 0.01])
    multipliers = selection_weights(fraud, propensity, cap=50.0)
    mean = (3 + 100) / 4
    assert multipliers[:4] == pytest.approx([1 / mean] * 3 + [100 / mean])
    assert multipliers[fraud].sum() == pytest.approx(4.0)  # the class's total is unchanged
    # Legits drawn with the same probability share equally: nothing changes for them.
    assert multipliers[~fraud].tolist() == [1.0, 1.0]


def test_the_multiplier_is_capped() -> None:
    fraud = np.ones(100, dtype=bool)
    propensity = np.r_[np.ones(99), 0.001]
    assert selection_weights(fraud, propensity, cap=50.0).max() == 50.0


def test_class_weights_balance_and_cap() -> None:
    assert class_weights(10, 90, cap=50.0) == (5.0, pytest.approx(100 / 180))
    assert class_weights(1, 999, cap=50.0) == (50.0, pytest.approx(1000 / 1998))


def test_a_reported_miss_trains_like_an_audited_one_whatever_its_report_probability() -> None:
    # An alert (1.0), a fraud reported back by its customer (1.0: every miss is reported)
    # and an audit at the audit rate: the report is a miss of the serving model, as the audit.
    propensity = np.array([1.0, 1.0, 0.002])
    audit = np.array([False, True, True])
    trained = training_propensity(propensity, audit, audit_rate=0.002)
    assert trained.tolist() == [1.0, 0.002, 0.002]
    fraud = np.ones(3, dtype=bool)
    multipliers = selection_weights(fraud, trained, cap=50.0)
    assert multipliers[1] == multipliers[2] > multipliers[0]


def test_a_batch_of_one_keeps_its_share_relative_to_the_recent_labels() -> None:
    # Labels arrive one at a time: shared within its own batch a missed fraud would get 1,
    # as an alerted one would. Against the recent frauds (3 alerted, 1 missed at 0.01) it
    # gets the share it gets in a batch of all four.
    recent = (np.ones(4, dtype=bool), np.array([1.0, 1.0, 1.0, 0.01]))
    together = selection_weights(recent[0], recent[1], cap=50.0)
    missed = selection_weights(np.array([True]), np.array([0.01]), cap=50.0, recent=recent)
    alerted = selection_weights(np.array([True]), np.array([1.0]), cap=50.0, recent=recent)
    assert missed.tolist() == pytest.approx([together[3]])
    assert alerted.tolist() == pytest.approx([together[0]])
    assert selection_weights(np.array([True]), np.array([0.01]), cap=50.0).tolist() == [1.0]
