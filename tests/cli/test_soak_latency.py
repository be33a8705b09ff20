"""The soak's exact latency: per minute from Kafka timestamps, and what the verdict judges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fraudstream.cli.experiment.soak_latency import by_minute, per_second
from fraudstream.cli.experiment.soak_report import analyse, pressure

BEGAN_MS = 1_800_000_000_000


def _events(minute: int, delays_ms: list[int], prefix: str = "soak1") -> dict[str, list[int]]:
    """Produced and scored stamps of events produced in `minute` (1-based), one per delay."""
    produced, scored = {}, {}
    for i, delay in enumerate(delays_ms):
        key = f"{prefix}-{minute}-{i}"
        produced[key] = BEGAN_MS + (minute - 1) * 60_000 + i * 10
        scored[key] = produced[key] + delay
    return {"produced": produced, "scored": scored}


def _merge(*parts: dict[str, dict[str, int]]) -> tuple[dict[str, int], dict[str, int]]:
    produced: dict[str, int] = {}
    scored: dict[str, int] = {}
    for part in parts:
        produced |= part["produced"]
        scored |= part["scored"]
    return produced, scored


def test_each_minute_has_its_own_percentiles_to_the_millisecond():
    produced, scored = _merge(_events(1, [10] * 99 + [500]), _events(2, [20] * 100))
    result = by_minute(produced, scored, BEGAN_MS, warmup_s=60)
    first, second = result["by_minute"]
    assert (first["minute"], second["minute"]) == (1, 2)
    assert first["events"] == second["events"] == 100
    assert first["p50_s"] == pytest.approx(0.010)
    assert first["max_s"] == pytest.approx(0.5)
    assert 0.010 < first["p99_s"] < 0.5  # interpolated between the 99th and 100th delays
    assert second["p99_s"] == pytest.approx(0.020)
    # After a one-minute warm-up only the second minute counts.
    assert result["p99_s_after_warmup"] == pytest.approx(0.020)
    assert result["unscored"] == 0 and result["events"] == 200


def test_events_never_scored_are_counted_not_timed():
    produced, scored = _merge(_events(1, [15] * 10))
    produced["soak1-lost"] = BEGAN_MS + 5
    result = by_minute(produced, scored, BEGAN_MS, warmup_s=0)
    assert result["unscored"] == 1 and result["events"] == 10
    assert result["by_minute"][0]["max_s"] == pytest.approx(0.015)


def test_nothing_scored_gives_no_minutes():
    result = by_minute({"soak1-0": BEGAN_MS}, {}, BEGAN_MS, warmup_s=0)
    assert result == {"events": 0, "unscored": 1, "by_minute": []}


def _sample(t: float, events: int, bucket_counts: dict[str, float]) -> dict:
    process = {"rss_mib": 100.0, "fds": 10, "cpu_s": t / 10}
    return {
        "t": t,
        "processes": {"scorer": process},
        "events_in": events,
        "latency_buckets": bucket_counts,
        "loop": {},
    }


def test_the_verdict_judges_the_exact_p99_and_keeps_the_histograms_beside_it():
    # The histogram puts every minute in the same bucket (0.05 s); the exact p99 differs by 50%.
    samples = [
        _sample(60.0 * i, 1000 * i, {"0.05": 1000.0 * i, "+Inf": 1000.0 * i}) for i in range(4)
    ]
    produced, scored = _merge(
        _events(1, [30] * 100), _events(2, [30] * 100), _events(3, [50] * 100)
    )
    exact = by_minute(produced, scored, BEGAN_MS, warmup_s=60)
    report = analyse(samples, 60.0, {"minutes": 3}, exact)
    minutes = report["latency"]["by_minute"]
    assert [m["p99_s"] for m in minutes] == [0.03, 0.03, 0.05]
    assert all(m["p99_histogram_s"] == minutes[0]["p99_histogram_s"] for m in minutes)
    assert report["latency"]["exact"]["events"] == 300
    assert report["latency"]["p99_s_after_warmup"] == pytest.approx(0.05)
    assert report["verdict"]["p99_stable_within_20pct"] is False  # 50 ms: 25% above the median (40)
    steady = by_minute(*_merge(*(_events(i, [30] * 100) for i in (1, 2, 3))), BEGAN_MS, 60)
    assert analyse(samples, 60.0, {}, steady)["verdict"]["p99_stable_within_20pct"] is True


def test_the_machines_stalls_are_sampled_when_the_kernel_offers_them():
    first = pressure()
    if not Path("/proc/pressure/io").exists():
        pytest.skip("this kernel has no pressure stall information")
    assert {"cpu_some", "io_some", "io_full", "cpu_stolen"} <= set(first)
    second = pressure()
    assert all(second[k] >= first[k] >= 0 for k in first)  # totals only grow


def test_the_worst_seconds_after_warm_up_are_listed_slowest_first():
    quiet = [10] * 100  # one event every 10 ms: seconds 0-0.99 of the minute
    produced, scored = _merge(
        _events(1, [900, *quiet[1:]]),  # in the warm-up: not listed
        _events(2, [*quiet[:50], 300, *quiet[51:]]),  # second 60.5 of the run
        _events(3, [*quiet[:20], 120, *quiet[21:]]),  # second 120.2
    )
    result = by_minute(produced, scored, BEGAN_MS, warmup_s=60)
    worst = result["worst_seconds"]
    assert [w["second"] for w in worst] == [60, 120]
    assert [w["max_s"] for w in worst] == [pytest.approx(0.3), pytest.approx(0.12)]
    assert [w["events"] for w in worst] == [100, 100]
    assert 0.010 < worst[0]["p99_s"] < 0.3
    each = result["by_second"]
    assert each["second"] == [60, 120] and each["events"] == [100, 100]
    assert each["max_ms"] == [300, 120]
    assert each["p99_ms"] == [round(w["p99_s"] * 1000) for w in worst]


def test_each_seconds_p99_is_numpys_percentile_of_its_events():
    rng = np.random.default_rng(3)
    second = rng.integers(0, 50, 20_000)
    delays = rng.gamma(2.0, 10.0, second.size).round().astype(np.int64)
    seconds, counts, p99, slowest = per_second(second, delays)
    for i, s in enumerate(seconds):
        inside = delays[second == s]
        assert counts[i] == inside.size and slowest[i] == inside.max()
        assert p99[i] == pytest.approx(np.percentile(inside, 99))
    one = per_second(np.array([7]), np.array([42]))
    assert [part.tolist() for part in one] == [[7], [1], [42.0], [42.0]]


def test_minutes_the_host_took_cpu_from_are_reported_apart_not_excused():
    stolen_so_far = [0.0, 0.5, 1.0, 6.0]  # minute 3: 5 CPU seconds stolen
    samples = [
        {
            **_sample(60.0 * i, 1000 * i, {"0.05": 1000.0 * i, "+Inf": 1000.0 * i}),
            "machine_stalled_s": {"cpu_stolen": stolen_so_far[i]},
        }
        for i in range(4)
    ]
    produced, scored = _merge(
        _events(1, [30] * 100), _events(2, [30] * 100), _events(3, [30] * 100)
    )
    exact = by_minute(produced, scored, BEGAN_MS, warmup_s=0)
    exact["by_minute"][2]["p99_s"] = 0.05  # the stolen minute is the slow one
    report = analyse(samples, 0.0, {}, exact)
    latency = report["latency"]
    assert [m["machine_stalled_s"]["cpu_stolen"] for m in latency["by_minute"]] == [0.5, 0.5, 5.0]
    assert latency["minutes_stolen"] == [3]
    assert latency["p99_spread"] == pytest.approx(2 / 3, abs=1e-3)  # 50 ms against 30
    assert latency["p99_spread_without_stolen_minutes"] == 0.0
    assert report["verdict"]["p99_stable_within_20pct"] is False  # the verdict still counts it


def test_a_minute_read_back_is_judged_by_when_its_events_were_produced():
    # The sample due at 60 s came late, so the second sampled window runs from 55 s; the events
    # read back for minute 2 were still all produced after the 60 s warm-up.
    times = [0.0, 55.0, 60.5, 120.0, 180.0]
    samples = [
        _sample(t, int(1000 * t / 60), {"0.05": 1000 * t / 60, "+Inf": 1000 * t / 60})
        for t in times
    ]
    produced, scored = _merge(
        _events(1, [90] * 100), _events(2, [30] * 100), _events(3, [30] * 100)
    )
    exact = by_minute(produced, scored, BEGAN_MS, warmup_s=60)
    report = analyse(samples, 60.0, {}, exact)
    minutes = report["latency"]["by_minute"]
    assert [(m["minute"], m["from_s"]) for m in minutes] == [(1, 0.0), (2, 55.0), (3, 120.0)]
    assert report["latency"]["p99_minutes_compared"] == 2  # minutes 2 and 3, not 3 alone
    histogram_only = analyse(samples, 60.0, {})
    assert histogram_only["latency"]["p99_minutes_compared"] == 1
