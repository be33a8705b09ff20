"""Memory of the embedded account state under a stream of (almost always) new accounts.

    python -m fraudstream.cli.bench.account_memory --events 3000000 --every 250000 \
        [--pass-rows 200000] [--snapshot-every 150000] [--regulars 0]

Feeds one `AccountState` simulated events in batches of 512 (PaySim's pace: about 8,600 events a
step, so the TTL holds about 25 steps of accounts) and prints, every `--every` events, the
process's RSS, the accounts held and the state's own estimate of its bytes. `--snapshot-every`
also takes a snapshot as the bridge does every 30 s (at 5,000 tx/s: every 150,000 events).
With `--pass-rows N`, the first N events are replayed pass after pass, as
`fraudstream experiment soak` replays its CSV: same names, same steps, so after the first pass
every event is late, counts at the clock, and no account ever expires.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from fraudstream.model.accounts import AccountState

_BATCH = 512
_EVENTS_PER_STEP = 8_600


def rss_mib() -> float:
    """Resident set size of this process (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _names(rng: np.random.Generator, prefix: str, count: int, regulars: int) -> list[str]:
    fresh = rng.integers(10**9, 10**10, count)
    if regulars:
        picked = rng.random(count) < 0.5
        fresh[picked] = rng.zipf(1.3, int(picked.sum())) % regulars
    return [f"{prefix}{n}" for n in fresh.tolist()]


def run(
    events: int, every: int, snapshot_every: int, regulars: int, seed: int, pass_rows: int = 0
) -> dict[str, Any]:
    """Feed the state and sample it; the samples and the CPU time per event."""
    rng = np.random.default_rng(seed)
    pass_rows = -(-pass_rows // _BATCH) * _BATCH  # whole batches
    state = AccountState()
    samples = [{"events": 0, "rss_mib": round(rss_mib(), 1), "accounts": 0}]
    cpu = 0.0
    kept: list[tuple[list[int], list[str], list[str], np.ndarray]] = []
    for start in range(0, events, _BATCH):
        n = min(_BATCH, events - start)
        if pass_rows and start >= pass_rows:
            steps, orig, dest, amounts = kept[(start % pass_rows) // _BATCH]
        else:
            steps = (np.arange(start, start + n) // _EVENTS_PER_STEP + 1).tolist()
            orig = _names(rng, "C", n, regulars)
            dest = _names(rng, "M", n, regulars)
            amounts = np.round(rng.lognormal(8, 1.5, n), 2)
            if pass_rows:
                kept.append((steps, orig, dest, amounts))
        began = time.process_time()
        state.update_batch(steps, orig, dest, amounts)
        cpu += time.process_time() - began
        done = start + n
        if snapshot_every and done % snapshot_every < _BATCH:
            state.snapshot()
        if done % every < _BATCH or done == events:
            sample = {
                "events": done,
                "rss_mib": round(rss_mib(), 1),
                "accounts": len(state),
                "state_mib": round(getattr(state, "nbytes", lambda: 0)() / 2**20, 1),
            }
            samples.append(sample)
            print(json.dumps(sample), flush=True)
    return {"samples": samples, "cpu_us_per_event": round(1e6 * cpu / max(events, 1), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--every", type=int, default=250_000)
    parser.add_argument("--snapshot-every", type=int, default=0)
    parser.add_argument("--pass-rows", type=int, default=0, help="replay the first N in passes")
    parser.add_argument("--regulars", type=int, default=0, help="half the names from N regulars")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = run(
        args.events, args.every, args.snapshot_every, args.regulars, args.seed, args.pass_rows
    )
    print(json.dumps({"cpu_us_per_event": result["cpu_us_per_event"]}))


if __name__ == "__main__":
    main()
