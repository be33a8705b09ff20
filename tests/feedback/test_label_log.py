"""The label log's entries: a verdict joined with the alert as it was served."""

from __future__ import annotations

import pytest

from fraudstream.feedback.convert import labeled_example
from fraudstream.feedback.domain import AlertKind, Label, Verdict
from fraudstream.v1 import alert_pb2, score_pb2


@pytest.mark.parametrize(
    ("kind", "probability"),
    [(AlertKind.ALERT, 1.0), (AlertKind.AUDIT, 0.002), (AlertKind.AUDIT, 0)],
)
def test_a_labeled_example_carries_the_alerts_selection_probability(kind, probability):
    alert = alert_pb2.Alert(
        score=score_pb2.Score(event_id="e-1", risk=0.1), selection_probability=probability
    )
    label = Label(
        position=7,
        event_id="e-1",
        verdict=Verdict.LEGIT,
        analyst="ana",
        note="",
        label_time=1_700_000_000.0,
        kind=kind,
        payload=alert.SerializeToString(),
    )
    example = labeled_example(label)
    # 0 stays 0: an alert stored before the field existed, for the learner to fall back on.
    assert example.selection_probability == probability
    assert (example.position, example.event_id) == (7, "e-1")
