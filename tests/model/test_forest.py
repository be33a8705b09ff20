"""The compact forest scores exactly as scikit-learn's IsolationForest."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from fraudstream.model.forest import CompactForest


@pytest.mark.parametrize(("max_samples", "max_features"), [("auto", 1.0), (512, 1.0), (128, 0.6)])
def test_scores_equal_scikit_learn(max_samples, max_features):
    rng = np.random.default_rng(7)
    train = np.vstack([rng.normal(size=(4000, 6)), rng.normal(4, 1, size=(40, 6))])
    model = IsolationForest(
        n_estimators=60, max_samples=max_samples, max_features=max_features, random_state=3
    ).fit(train)
    compact = CompactForest(model)
    probe = np.vstack([rng.normal(size=(700, 6)) * 3, train[:50], train[-5:]])
    np.testing.assert_allclose(compact.score_samples(probe), model.score_samples(probe), rtol=1e-12)
    np.testing.assert_allclose(
        compact.decision_function(probe[:1]), model.decision_function(probe[:1]), rtol=1e-12
    )


def test_wrong_width_is_refused():
    model = IsolationForest(n_estimators=5, random_state=0).fit(
        np.zeros((50, 3)) + np.arange(50)[:, None]
    )
    with pytest.raises(ValueError, match=r"expected shape \(n, 3\)"):
        CompactForest(model).score_samples(np.zeros((2, 4)))
