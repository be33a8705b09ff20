"""A replay in a thread at a steady rate, long enough for a run: the CSV again and again."""

from __future__ import annotations

import threading
from pathlib import Path

from fraudstream.cli.replay.producer import ReplayConfig, replay


class SteadyReplay(threading.Thread):
    """Replays the CSV pass after pass at `rate` until `events` were produced.

    Event ids are `<run_id>-<row>` in the first pass, `<run_id>p<pass>-<row>` after.
    """

    def __init__(self, csv: Path, bootstrap: str, rate: float, events: int, run_id: str) -> None:
        super().__init__(name="replay", daemon=True)
        self.csv, self.bootstrap, self.rate, self.events = csv, bootstrap, rate, events
        self.run_id = run_id
        self.replayed = 0
        self.error: BaseException | None = None

    def _advance(self, rows: int) -> None:
        self.replayed += rows

    def run(self) -> None:
        passes = 0
        try:
            while self.replayed < self.events:
                summary = replay(
                    ReplayConfig(
                        input=self.csv,
                        bootstrap=self.bootstrap,
                        rate=self.rate,
                        run_id=f"{self.run_id}p{passes}" if passes else self.run_id,
                        limit=self.events - self.replayed,
                    ),
                    on_progress=self._advance,
                )
                if summary.failed:
                    raise RuntimeError(f"{summary.failed} transactions were not delivered")
                passes += 1
        except Exception as exc:  # reported by the sampling loop
            self.error = exc
