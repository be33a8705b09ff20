"""Learner test fixtures: labeled examples as the scorer served them, learners on a tmp state."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudstream.cli.replay.transactions import transactions_of
from fraudstream.learner.config import LearnerConfig
from fraudstream.learner.examples import ExampleReader, LabelBatch
from fraudstream.learner.guardrail import Guardrail
from fraudstream.learner.learner import Learner
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.server import load_baseline
from fraudstream.learner.settings import LearnerSettings
from fraudstream.learner.store import SnapshotStore
from fraudstream.model.detectors import AUTOENCODER, ISOLATION_FOREST
from fraudstream.model.ensemble import Ensemble, load_ensemble
from fraudstream.model.features import features_from_frame
from fraudstream.model.signing import Signer
from fraudstream.training.csvio import read_paysim_chunks
from fraudstream.training.simulate import SimulationConfig, simulate
from fraudstream.v1 import alert_pb2, score_pb2

# A small PaySim run in which a new fraud pattern (structuring) starts at DRIFT_STEP.
DRIFT_ROWS = 40_000
DRIFT_STEP = 300
DRIFT_SEED = 23
# Analysts label every fraud and this many legitimate cases per fraud (alerts plus audits).
LEGIT_PER_FRAUD = 8

_DETECTORS = {
    ISOLATION_FOREST: score_pb2.DETECTOR_ISOLATION_FOREST,
    AUTOENCODER: score_pb2.DETECTOR_AUTOENCODER,
}


@dataclass(frozen=True)
class LabeledStream:
    """The label log of a drifted run: examples in position order and which are the new fraud."""

    examples: list[alert_pb2.LabeledExample]
    drift_fraud: np.ndarray  # bool per example: a fraud of the new pattern
    bundle_version: str

    def new_pattern(self) -> list[alert_pb2.LabeledExample]:
        """The examples that are frauds of the new pattern."""
        return [self.examples[i] for i in np.flatnonzero(self.drift_fraud)]

    def batches(self, size: int) -> list[list[alert_pb2.LabeledExample]]:
        return [self.examples[i : i + size] for i in range(0, len(self.examples), size)]


def served_examples(
    ensemble: Ensemble,
    features: np.ndarray,
    fraud: np.ndarray,
    transactions: list | None = None,
    first_position: int = 1,
    prefix: str = "ex",
) -> list[alert_pb2.LabeledExample]:
    """LabeledExamples carrying exactly what the scorer would have served for these rows."""
    scored = ensemble.score(features)
    version = f"{ensemble.version}+s0"
    now = time.time()
    examples = []
    for row in range(features.shape[0]):
        event_id = f"{prefix}-{first_position + row}"
        example = alert_pb2.LabeledExample(
            position=first_position + row,
            event_id=event_id,
            verdict=alert_pb2.VERDICT_FRAUD if fraud[row] else alert_pb2.VERDICT_LEGIT,
            features=score_pb2.FeatureVector(
                schema_hash=ensemble.feature_schema_hash, values=features[row].tolist()
            ),
            score=score_pb2.Score(
                event_id=event_id,
                risk=float(scored.risk[row]),
                decision=int(scored.decision[row]),
                model_version=version,
                detector_scores=[
                    score_pb2.DetectorScore(detector=number, score=float(scored.scores[name][row]))
                    for name, number in _DETECTORS.items()
                ],
            ),
            kind=alert_pb2.ALERT_KIND_ALERT,
        )
        example.label_time.FromNanoseconds(int(now * 1e9))
        if transactions is not None:
            example.transaction.CopyFrom(transactions[row])
            example.transaction.event_id = event_id
        examples.append(example)
    return examples


@pytest.fixture(scope="session")
def drift_stream(model_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> LabeledStream:
    """Labels of a run where structuring fraud appears at DRIFT_STEP, in step order."""
    csv = tmp_path_factory.mktemp("drift") / "drift.csv"
    simulate(
        SimulationConfig(
            rows=DRIFT_ROWS, seed=DRIFT_SEED, drift_step=DRIFT_STEP, drift_pattern="structuring"
        ),
        csv,
        quiet=True,
    )
    (frame,) = list(read_paysim_chunks(csv, chunk_rows=DRIFT_ROWS))
    fraud = frame["isFraud"].to_numpy() == 1
    rng = np.random.default_rng(DRIFT_SEED)
    legit = rng.choice(np.flatnonzero(~fraud), LEGIT_PER_FRAUD * int(fraud.sum()), replace=False)
    rows = np.sort(np.concatenate([np.flatnonzero(fraud), legit]))
    ensemble = load_ensemble(model_bundle)
    labeled = frame.iloc[rows].reset_index(drop=True)
    features = features_from_frame(labeled)
    transactions = list(transactions_of(labeled, "drift", 0))
    examples = served_examples(ensemble, features, fraud[rows], transactions)
    drift = fraud[rows] & (frame["step"].to_numpy()[rows] >= DRIFT_STEP)
    return LabeledStream(examples, drift, ensemble.version)


@dataclass
class LearnerUnderTest:
    """A Learner on a state directory, with the reader that turns examples into batches."""

    learner: Learner
    reader: ExampleReader
    store: SnapshotStore
    metrics: LearnerMetrics
    promoted: list

    def feed(self, examples: list[alert_pb2.LabeledExample]) -> int:
        return self.learner.apply(self.reader.read(examples))

    def read(self, examples: list[alert_pb2.LabeledExample]) -> LabelBatch:
        return self.reader.read(examples)


MakeLearner = Callable[..., LearnerUnderTest]


@pytest.fixture
def make_learner(model_bundle: Path, tmp_path: Path) -> MakeLearner:
    """`make_learner(state_dir=..., guardrail=..., signer=..., **config)`: a Learner on the
    session bundle."""
    baseline = load_baseline(LearnerSettings(models=model_bundle))

    def make(
        state_dir: Path | None = None,
        guardrail: Guardrail | None = None,
        signer: Signer | None = None,
        **config: object,
    ) -> LearnerUnderTest:
        store = SnapshotStore(state_dir or tmp_path / "learner")
        metrics = LearnerMetrics()
        promoted: list = []
        learner = Learner(
            baseline,
            store,
            LearnerConfig(**config),  # type: ignore[arg-type]
            metrics,
            on_promotion=lambda snapshot, label_time, kind: promoted.append(snapshot),
            guardrail=guardrail,
            signer=signer,
        )
        reader = ExampleReader(
            baseline.classifier.input_names,
            baseline.feature_schema_hash,
            baseline.bundle_version,
        )
        return LearnerUnderTest(learner, reader, store, metrics, promoted)

    return make


# Traffic labeled as production labels it: every alert, and a uniform audit sample of the rest.
TRAFFIC_ROWS = 60_000
TRAFFIC_SEED = 29
AUDIT_RATE = 0.02


@dataclass(frozen=True)
class Traffic:
    """Simulated traffic scored by the bundle: every row's features, truth and serving risk,
    and which rows analysts label (alerts, with selection probability 1, and audits drawn at
    AUDIT_RATE among the rest)."""

    features: np.ndarray
    fraud: np.ndarray
    risk: np.ndarray
    alerted: np.ndarray
    audited: np.ndarray
    ensemble: Ensemble
    frame: pd.DataFrame

    def transactions(self, rows: np.ndarray, prefix: str = "tr") -> list:
        """The rows as Transactions (event ids `<prefix>-<row>`), e.g. to score on a scorer."""
        rows = np.asarray(rows)
        found = list(transactions_of(self.frame.iloc[rows].reset_index(drop=True), prefix, 0))
        for transaction, row in zip(found, rows, strict=True):
            transaction.event_id = f"{prefix}-{row}"
        return found

    def labels(
        self, rows: np.ndarray, flip: float = 0.0, seed: int = 0, first_position: int = 1
    ) -> list[alert_pb2.LabeledExample]:
        """Label-log entries for the labeled ones of `rows`, in row order, each verdict flipped
        with probability `flip` (wrong verdicts)."""
        picked = np.asarray(rows)[self.alerted[rows] | self.audited[rows]]
        verdicts = self.fraud[picked] ^ (np.random.default_rng(seed).random(picked.size) < flip)
        examples = served_examples(
            self.ensemble, self.features[picked], verdicts, first_position=first_position
        )
        for example, row in zip(examples, picked, strict=True):
            if self.audited[row]:
                example.kind = alert_pb2.ALERT_KIND_AUDIT
                example.selection_probability = AUDIT_RATE
            else:
                example.selection_probability = 1.0
        return examples


@pytest.fixture(scope="session")
def traffic(model_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    csv = tmp_path_factory.mktemp("traffic") / "traffic.csv"
    simulate(SimulationConfig(rows=TRAFFIC_ROWS, seed=TRAFFIC_SEED), csv, quiet=True)
    (frame,) = list(read_paysim_chunks(csv, chunk_rows=TRAFFIC_ROWS))
    ensemble = load_ensemble(model_bundle)
    features = features_from_frame(frame)
    scored = ensemble.score(features)
    alerted = scored.risk >= ensemble.thresholds.review
    rng = np.random.default_rng(TRAFFIC_SEED)
    audited = ~alerted & (rng.random(alerted.size) < AUDIT_RATE)
    fraud = frame["isFraud"].to_numpy() == 1
    return Traffic(features, fraud, scored.risk, alerted, audited, ensemble, frame)
