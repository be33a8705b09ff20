"""Labels of a bundle trained with account features: the served 38 features are learned from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fraudstream.learner.examples import ExampleReader
from fraudstream.model.ensemble import load_ensemble
from fraudstream.model.schema import ACCOUNT_SCHEMA, frame_features
from tests.learner.conftest import served_examples


def test_account_examples_become_classifier_inputs(account_bundle: Path) -> None:
    ensemble = load_ensemble(account_bundle)
    assert ensemble.classifier is not None
    frame = pd.read_csv(account_bundle.parent / "paysim.csv", nrows=200)
    features = frame_features(frame, ACCOUNT_SCHEMA)
    fraud = frame["isFraud"].to_numpy(dtype=bool)
    examples = served_examples(ensemble, features, fraud)
    reader = ExampleReader(
        ensemble.classifier.input_names, ensemble.feature_schema_hash, ensemble.version
    )
    batch = reader.read(examples)
    assert batch.refused == {} and len(batch) == 200
    width = ACCOUNT_SCHEMA.width
    np.testing.assert_array_equal(batch.inputs[:, :width], features)
    scores = ensemble.score(features).scores
    np.testing.assert_array_equal(batch.inputs[:, width], scores["isolation_forest"])
    # The same labels served under the transaction schema are refused, not misread.
    plain = ExampleReader(
        ensemble.classifier.input_names[:24] + ensemble.classifier.input_names[-2:],
        "0" * 64,
        ensemble.version,
    )
    assert plain.read(examples).refused == {"feature_schema": 200}
