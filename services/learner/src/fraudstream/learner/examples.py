"""Labeled examples from the feedback log turned into classifier inputs, refusing unusable ones."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fraudstream.model.detectors import AUTOENCODER, ISOLATION_FOREST
from fraudstream.model.ensemble import DETECTOR_INPUT_NAMES
from fraudstream.model.features import FEATURE_NAMES
from fraudstream.model.schema import schema_of
from fraudstream.model.validity import unlearnable_input
from fraudstream.v1 import alert_pb2, score_pb2

logger = logging.getLogger(__name__)

# Served detector scores are classifier inputs under these names (see ensemble.CLASSIFIER_INPUTS).
_DETECTOR_OF_INPUT = {
    DETECTOR_INPUT_NAMES[ISOLATION_FOREST]: score_pb2.DETECTOR_ISOLATION_FOREST,
    DETECTOR_INPUT_NAMES[AUTOENCODER]: score_pb2.DETECTOR_AUTOENCODER,
}


@dataclass(frozen=True)
class LabelBatch:
    """Consecutive label-log entries: the usable ones as classifier inputs, the rest counted.

    `last_position` covers every entry read, refused ones included, so the position advances
    past them exactly once.
    """

    last_position: int
    inputs: np.ndarray
    fraud: np.ndarray
    positions: np.ndarray
    label_times: np.ndarray  # Unix seconds; NaN when the example had no label_time
    refused: dict[str, int] = field(default_factory=dict)
    # Probability that each example was labeled at all (1.0 for alerts), and which were audits.
    propensity: np.ndarray = field(default_factory=lambda: np.ones(0))
    audit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __len__(self) -> int:
        return int(self.fraud.shape[0])


class ExampleReader:
    """Builds classifier inputs from LabeledExamples, exactly as the scorer served them.

    An example is refused (and counted by reason) when it was served under another feature
    schema or bundle, lacks a detector score the classifier takes, has no verdict, or holds a
    non-finite number or one outside what the scorer ever serves (validity.unlearnable_input):
    learning from it would teach the model something it never sees, or fail outright.
    """

    def __init__(
        self,
        input_names: Sequence[str],
        feature_schema_hash: str,
        bundle_version: str,
        audit_rate: float = 0.002,
    ) -> None:
        if not 0.0 < audit_rate <= 1.0:
            raise ValueError(f"audit_rate {audit_rate} outside (0, 1]")
        self.input_names = tuple(input_names)
        # The selection probability of an audit label that does not carry its own.
        self.audit_rate = audit_rate
        self.feature_schema_hash = feature_schema_hash
        self.bundle_version = bundle_version
        # The served feature vector's columns: the bundle's schema (transaction features, then
        # the account features when it was trained with them).
        try:
            self.feature_names = schema_of(feature_schema_hash).names
        except ValueError:
            self.feature_names = FEATURE_NAMES
        names = self.feature_names
        unknown = [
            name
            for name in self.input_names
            if name not in names and name not in _DETECTOR_OF_INPUT
        ]
        if unknown:
            raise ValueError(f"classifier inputs {unknown} are neither features nor detectors")
        # Per input: the served detector it comes from, or its column in the feature vector.
        self._sources = [
            (
                _DETECTOR_OF_INPUT.get(name),
                names.index(name) if name in names else -1,
            )
            for name in self.input_names
        ]

    def read(self, examples: Sequence[alert_pb2.LabeledExample]) -> LabelBatch:
        """The usable examples of `examples` (consecutive, in position order) as one batch."""
        rows: list[list[float]] = []
        fraud: list[bool] = []
        positions: list[int] = []
        label_times: list[float] = []
        propensity: list[float] = []
        audit: list[bool] = []
        refused: Counter[str] = Counter()
        for example in examples:
            reason = self._refusal(example)
            if reason is not None:
                refused[reason] += 1
                logger.debug(
                    "refused label %d (%s): %s", example.position, example.event_id, reason
                )
                continue
            row = self._inputs(example)
            if row is None:
                refused["detector_score"] += 1
                continue
            unlearnable = unlearnable_input(row, self.input_names)
            if unlearnable is not None:
                # partial_fit raises on such a row every time: the label would be retried forever.
                refused[unlearnable] += 1
                logger.debug(
                    "refused label %d (%s): %s", example.position, example.event_id, unlearnable
                )
                continue
            rows.append(row)
            fraud.append(example.verdict == alert_pb2.VERDICT_FRAUD)
            positions.append(example.position)
            audit.append(example.kind == alert_pb2.ALERT_KIND_AUDIT)
            propensity.append(self._propensity(example))
            label_times.append(
                example.label_time.ToNanoseconds() / 1e9
                if example.HasField("label_time")
                else math.nan
            )
        if refused:
            logger.warning(
                "refused %d of %d labels: %s",
                sum(refused.values()),
                len(examples),
                dict(refused),
                extra={"refused": dict(refused)},
            )
        width = len(self.input_names)
        return LabelBatch(
            last_position=examples[-1].position if examples else 0,
            inputs=np.asarray(rows, dtype=np.float64).reshape(len(rows), width),
            fraud=np.asarray(fraud, dtype=bool),
            positions=np.asarray(positions, dtype=np.int64),
            label_times=np.asarray(label_times, dtype=np.float64),
            refused=dict(refused),
            propensity=np.asarray(propensity, dtype=np.float64),
            audit=np.asarray(audit, dtype=bool),
        )

    def _propensity(self, example: alert_pb2.LabeledExample) -> float:
        """The example's selection probability; labels written before it was recorded (0)
        fall back to 1 for alerts and the configured audit rate for audits."""
        if 0.0 < example.selection_probability <= 1.0:
            return float(example.selection_probability)
        return self.audit_rate if example.kind == alert_pb2.ALERT_KIND_AUDIT else 1.0

    def _refusal(self, example: alert_pb2.LabeledExample) -> str | None:
        if example.verdict not in (alert_pb2.VERDICT_FRAUD, alert_pb2.VERDICT_LEGIT):
            return "verdict"
        if example.features.schema_hash != self.feature_schema_hash:
            return "feature_schema"
        if len(example.features.values) != len(self.feature_names):
            return "dimensions"
        served_by = example.score.model_version.rpartition("+s")[0]
        if served_by and served_by != self.bundle_version:
            # Detector scores of another bundle's Isolation Forest and autoencoder mean
            # something else: this bundle's classifier must not learn from them.
            return "bundle"
        return None

    def _inputs(self, example: alert_pb2.LabeledExample) -> list[float] | None:
        detectors = {d.detector: d.score for d in example.score.detector_scores}
        features = example.features.values
        row: list[float] = []
        for detector, column in self._sources:
            if detector is None:
                row.append(features[column])
                continue
            score = detectors.get(detector)
            if score is None:
                return None
            row.append(score)
        return row
