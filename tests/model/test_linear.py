"""Risk from plain numbers equals scikit-learn's, and reasons name the inputs that pushed it up."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from fraudstream.model.linear import (
    LinearModel,
    contributions,
    linear_from_sklearn,
    risk_from_linear,
    risk_from_logit,
    top_reasons,
)


def _fitted() -> tuple[np.ndarray, StandardScaler, SGDClassifier]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = (x[:, 0] - 0.5 * x[:, 2] + rng.normal(scale=0.3, size=2000) > 1.0).astype(int)
    scaler = StandardScaler().fit(x)
    model = SGDClassifier(loss="log_loss", random_state=0).fit(scaler.transform(x), y)
    return x, scaler, model


def test_plain_numbers_match_sklearn() -> None:
    x, scaler, model = _fitted()
    linear = linear_from_sklearn(("orig_exact_drain", "log_amount", "dest_change"), scaler, model)
    expected = model.predict_proba(scaler.transform(x))[:, 1]
    np.testing.assert_allclose(linear.risk(x), expected, rtol=1e-12, atol=1e-12)
    numbers = linear.to_dict()
    again = risk_from_linear(
        x, numbers["scaler_mean"], numbers["scaler_scale"], numbers["coefficients"],
        numbers["intercept"],
    )  # fmt: skip
    np.testing.assert_array_equal(again, linear.risk(x))
    assert LinearModel.from_dict(numbers).to_dict() == numbers


def test_reasons_are_the_largest_positive_contributions() -> None:
    x, scaler, model = _fitted()
    linear = linear_from_sklearn(("orig_exact_drain", "log_amount", "dest_change"), scaler, model)
    reasons = top_reasons(linear, x[:50], top=2)
    pushes = contributions(linear, x[:50])
    for row, row_reasons in enumerate(reasons):
        assert all(r.contribution > 0 for r in row_reasons)
        if row_reasons:
            assert row_reasons[0].contribution == pytest.approx(pushes[row].max())
            assert row_reasons[0].text
    assert any(r.code == "orig_exact_drain" for rs in reasons for r in rs)


def test_invalid_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        LinearModel(("a", "b"), np.zeros(2), np.ones(2), np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="positive"):
        LinearModel(("a",), np.zeros(1), np.zeros(1), np.zeros(1), 0.0)
    with pytest.raises(ValueError, match="non-finite"):
        LinearModel(("a",), np.zeros(1), np.ones(1), np.array([np.nan]), 0.0)


def test_risk_from_logit_never_overflows() -> None:
    risk = risk_from_logit(np.array([-1e6, -800.0, 0.0, 800.0, 1e6]))
    assert np.isfinite(risk).all()
    assert risk[2] == 0.5
    assert list(risk) == sorted(risk)
