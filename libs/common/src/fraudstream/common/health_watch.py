"""Health that tells the truth: a thread that turns a process's own progress check into SERVING.

A service whose gRPC server answers can still be doing nothing useful (a bridge stalled on a
batch, a learner failing on the same label). Each such service gives `watch_health` a
`check` that says, from its own progress records, whether it is working; the watch reports
that in the health service and logs each change once. It runs in its own thread so that it
tells the truth even when the thread doing the work is stuck.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Condition:
    """What a check found: serving or not, in words, and whether it is a fault (logged as a
    warning) rather than an ordinary state such as holding no partition yet."""

    serving: bool
    text: str
    fault: bool = False


def watch_health(
    check: Callable[[], Condition],
    set_serving: Callable[[bool], None],
    stop: threading.Event,
    interval: float = 0.5,
) -> None:
    """Report `check().serving` in health every `interval` s until `stop`; log each change."""
    reported: Condition | None = None
    while True:
        found = check()
        if reported is None or (found.serving, found.text) != (reported.serving, reported.text):
            word = "SERVING" if found.serving else "NOT_SERVING"
            if found.fault:
                logger.warning("%s; health %s", found.text, word)
            elif reported is not None:
                logger.info("%s; health %s", found.text, word)
            set_serving(found.serving)
            reported = found
        if stop.wait(interval):
            return
