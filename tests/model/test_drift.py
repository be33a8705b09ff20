"""PSI on hand-made distributions with known values; Page-Hinkley on shifted and steady streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fraudstream.model.drift import PageHinkley, RiskDriftMonitor, psi, risk_histogram


def test_psi_of_identical_distributions_is_zero():
    assert psi(np.array([10, 20, 70]), np.array([1, 2, 7])) == 0.0


def test_psi_known_value():
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    assert psi(np.array([50, 50]), np.array([25, 75])) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.27465, abs=1e-5)


def test_psi_is_symmetric_in_its_two_histograms():
    e, a = np.array([5, 30, 65]), np.array([20, 30, 50])
    assert psi(e, a) == pytest.approx(psi(a, e), rel=1e-12)


def test_an_empty_bin_is_floored_not_infinite():
    # actual proportions [1, 0] -> [1, 1e-4]: 0.5 ln 2 + (1e-4 - 0.5) ln(1e-4 / 0.5)
    expected = 0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert psi(np.array([1, 1]), np.array([2, 0])) == pytest.approx(expected, rel=1e-12)


def test_psi_refuses_empty_or_mismatched_histograms():
    with pytest.raises(ValueError):
        psi(np.array([0, 0]), np.array([1, 1]))
    with pytest.raises(ValueError):
        psi(np.array([1, 1]), np.array([1, 1, 1]))


def test_risk_histogram_bins_ends_and_drops_non_finite():
    risk = np.array([0.0, 0.05, 0.1, 0.95, 1.0, 1.5, -0.2, math.nan, math.inf])
    assert risk_histogram(risk, 10).tolist() == [3, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    # One value at a time (a Score call's own path) counts exactly as the batch does.
    one_by_one = sum(risk_histogram(risk[i : i + 1], 10) for i in range(risk.size))
    assert one_by_one.tolist() == [3, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    rng = np.random.default_rng(3)
    values = rng.uniform(0.0, 1.0, 2000)
    values[:100] = np.round(values[:100], 1)  # on the bin edges
    one_by_one = sum(risk_histogram(values[i : i + 1], 10) for i in range(values.size))
    assert one_by_one.tolist() == risk_histogram(values, 10).tolist()


def test_monitor_takes_the_first_window_as_reference_then_measures():
    rng = np.random.default_rng(7)
    monitor = RiskDriftMonitor(window=1000, bins=10, blocks=4)
    assert monitor.observe(rng.beta(1, 8, 999)) is None
    assert math.isnan(monitor.value) and monitor.reference is None
    assert monitor.observe(rng.beta(1, 8, 1)) is None  # the window is full: the reference
    assert monitor.reference is not None and monitor.reference.sum() == 1000
    values = [monitor.observe(rng.beta(1, 8, 250)) for _ in range(4)]
    assert values[:3] == [None, None, None]  # the recent window is not full yet
    assert values[3] is not None and values[3] < 0.05
    # The same traffic with risks pushed up: one more block moves the PSI, a full window of it
    # moves it past 0.2.
    shifted = [monitor.observe(rng.beta(4, 3, 250)) for _ in range(4)]
    assert all(v is not None for v in shifted)
    assert shifted[-1] > 0.2 and shifted[-1] == monitor.value
    assert shifted == sorted(shifted)


def test_monitor_with_a_given_reference_measures_from_the_first_window():
    risks = np.linspace(0, 1, 100, endpoint=False)
    reference = risk_histogram(np.repeat(risks, 10), 10)
    monitor = RiskDriftMonitor(window=100, bins=10, blocks=1, reference=reference)
    assert monitor.observe(risks) == 0.0
    assert monitor.observe(risks / 10) == pytest.approx(psi(reference, np.eye(10)[0]))


def _bernoulli(rng: np.random.Generator, p: float, n: int) -> np.ndarray:
    return (rng.random(n) < p).astype(np.float64)


def test_page_hinkley_fires_soon_after_a_drop_in_precision():
    rng = np.random.default_rng(11)
    detector = PageHinkley()
    before = _bernoulli(rng, 0.8, 2000)
    assert detector.update_many(before) == 0
    after = _bernoulli(rng, 0.3, 500)
    fired = [i for i, x in enumerate(after) if detector.update(x)]
    assert fired, "a fall from 0.8 to 0.3 was not detected"
    assert fired[0] < 120, fired


def test_page_hinkley_fires_on_a_rise_and_can_watch_one_direction():
    rng = np.random.default_rng(12)
    stream = np.concatenate([_bernoulli(rng, 0.2, 1000), _bernoulli(rng, 0.7, 300)])
    assert PageHinkley(direction="both").update_many(stream) >= 1
    assert PageHinkley(direction="up").update_many(stream) >= 1
    assert PageHinkley(direction="down").update_many(stream) == 0


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_page_hinkley_stays_quiet_on_a_stationary_stream(seed, p):
    rng = np.random.default_rng(seed)
    detector = PageHinkley()
    assert detector.update_many(_bernoulli(rng, p, 20_000)) == 0
    assert detector.samples == 20_000


def test_page_hinkley_waits_for_min_samples():
    detector = PageHinkley(threshold=0.1, min_samples=30)
    assert not any(detector.update(x) for x in [0.0] * 10 + [1.0] * 19)
    assert detector.update(1.0)  # the 30th sample, far from the mean
    assert detector.samples == 0 and detector.statistic == 0.0


def test_page_hinkley_refuses_an_unknown_direction():
    with pytest.raises(ValueError):
        PageHinkley(direction="sideways")
