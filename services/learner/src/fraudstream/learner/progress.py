"""Whether the learner gets through its labels: the truth its health reports.

Labels come in order from the feedback service's log, and a batch that cannot be applied
(a failed save, a gap, a bug) restarts the stream from the saved position. Such a failure
that repeats at the same position for `stall_seconds` with nothing applied meanwhile means
the learner is stuck there: health turns NOT_SERVING and `learner_stalled` is 1 until a
batch is applied again. A label that cannot be learned from never stalls it: it is refused
and skipped (examples.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from fraudstream.common.health_watch import Condition
from fraudstream.learner.metrics import LearnerMetrics

logger = logging.getLogger(__name__)


class LabelProgress:
    """The position the learner is stuck after, if any; updated by the label consumer."""

    def __init__(
        self,
        metrics: LearnerMetrics,
        stall_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self.stall_seconds = stall_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # (position, first failure there, failures since, last error) while failing.
        self._failing: tuple[int, float, int, str] | None = None

    def applied(self, position: int) -> None:
        """A batch up to `position` was applied and saved."""
        with self._lock:
            self._failing = None

    def failed(self, position: int, error: BaseException) -> None:
        """Applying the labels after `position` failed (the stream restarts from there)."""
        with self._lock:
            if self._failing is not None and self._failing[0] == position:
                _, since, count, _ = self._failing
                self._failing = (position, since, count + 1, str(error))
            else:
                self._failing = (position, self._clock(), 1, str(error))

    def condition(self) -> Condition:
        """NOT_SERVING (a fault) while stuck after one position for `stall_seconds`."""
        with self._lock:
            failing = self._failing
            stuck = failing is not None and self._clock() - failing[1] >= self.stall_seconds
        self._metrics.stalled.set(1 if stuck else 0)
        if not stuck or failing is None:
            return Condition(True, "learning")
        position, _, count, error = failing
        return Condition(
            False,
            f"stalled after label position {position}: {count} attempts failed for "
            f"{self.stall_seconds:.0f}s or more (last: {error[:200]})",
            fault=True,
        )
