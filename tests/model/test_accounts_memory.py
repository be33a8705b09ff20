"""The embedded state's memory follows the steps and counterparties in its windows, not the
events: a stream replayed pass after pass (as the soak replays its CSV) stops growing it."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np

from fraudstream.model.accounts import AccountState, compute_account_features

PASSES = 10


def _rows(rng: np.random.Generator, n: int) -> tuple[list[int], list[str], list[str], np.ndarray]:
    steps = sorted(rng.integers(1, 6, n).tolist())
    orig = [f"C{i}" for i in rng.integers(0, 40, n).tolist()]
    dest = [f"M{i}" for i in rng.integers(0, 30, n).tolist()]
    return steps, orig, dest, np.round(rng.uniform(1, 5000, n), 2)


def test_a_replayed_stream_keeps_parity_and_stops_growing_the_state() -> None:
    rows = _rows(np.random.default_rng(5), 400)
    state = AccountState()
    served, traced, estimated = [], [], []
    tracemalloc.start()
    try:
        for done in range(PASSES):
            # After the first pass every event is late (its step below the clock): it counts
            # at the clock, so nothing ever leaves the 24-step windows.
            served.append(state.update_batch(*rows))
            if done == PASSES // 2:
                state = AccountState.restore(state.snapshot())
            gc.collect()
            held = sum(features.nbytes for features in served)
            traced.append(tracemalloc.get_traced_memory()[0] - held)
            estimated.append(state.nbytes())
    finally:
        tracemalloc.stop()
    stream = [list(column) * PASSES for column in rows]
    expected = compute_account_features(*stream)
    np.testing.assert_allclose(np.vstack(served), expected, rtol=0, atol=1e-9)
    assert state.counters.late_events > 0 and state.counters.expired == 0
    # From the second pass on each account holds one merged bucket per step: no growth.
    assert estimated[-1] == estimated[1]
    # (The restore at mid-run rebuilds the containers at other sizes: compared on each side.)
    restored = PASSES // 2  # the first sample after the restore
    assert traced[restored - 1] < 1.02 * traced[2], traced
    assert traced[-1] < 1.02 * traced[restored], traced
