"""Labels the online model cannot learn from are refused, counted and skipped, never retried."""

from __future__ import annotations

import math

import pytest

from fraudstream.model.validity import unlearnable_input
from fraudstream.v1 import alert_pb2


def _copies(examples: list[alert_pb2.LabeledExample]) -> list[alert_pb2.LabeledExample]:
    batch = [alert_pb2.LabeledExample() for _ in examples]
    for copy, example in zip(batch, examples, strict=True):
        copy.CopyFrom(example)
    return batch


@pytest.mark.parametrize("value", [1e308, -1e308, 1.7976931348623157e308, 1e4])
def test_a_forged_feature_value_is_refused_and_the_position_moves_on(
    make_learner, drift_stream, value
):
    under = make_learner()
    batch = _copies(drift_stream.examples[:40])
    batch[3].features.values[0] = value
    batch[7].features.values[-1] = -value
    batch[9].score.detector_scores[0].score = 7.5  # a detector score is 0..1
    position = under.feed(batch)
    assert position == batch[-1].position, "refused labels are consumed, not retried"
    status = under.learner.status()
    assert status.refused_examples == {"out_of_range": 3}
    assert status.labels_seen == len(batch) - 3
    assert (
        under.metrics.registry.get_sample_value(
            "learner_examples_refused_total", {"reason": "out_of_range"}
        )
        == 3
    )
    # The learner goes on learning from the next labels.
    following = under.feed(_copies(drift_stream.examples[40:80]))
    assert following == drift_stream.examples[79].position


def test_unlearnable_input_reasons():
    names = ("log_amount", "drain_gap", "isolation_forest_score")
    assert unlearnable_input([1.0, -4.0, 0.3], names) is None
    assert unlearnable_input([1.0, -4.0], names) == "dimensions"
    assert unlearnable_input([math.nan, -4.0, 0.3], names) == "non_finite"
    assert unlearnable_input([1.0, math.inf, 0.3], names) == "non_finite"
    assert unlearnable_input([1e308, -4.0, 0.3], names) == "out_of_range"
    assert unlearnable_input([1.0, -4.0, 1.5], names) == "out_of_range"
    assert unlearnable_input([1.0, -4.0, -0.1], names) == "out_of_range"
