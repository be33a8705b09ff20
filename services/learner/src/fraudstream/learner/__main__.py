"""Run the learner service: `fraudstream serve learner` or `python -m fraudstream.learner`."""

from __future__ import annotations

import logging
import sys

from fraudstream.common.lifecycle import run
from fraudstream.common.logs import setup_logging
from fraudstream.common.runner import start_metrics_server
from fraudstream.common.settings import parse_settings
from fraudstream.learner.challenger import warm_up_in_background
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.server import build_server, open_deps
from fraudstream.learner.settings import LearnerSettings
from fraudstream.learner.store import StateError
from fraudstream.model.bundle import BundleError

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse settings, restore the learner's state, serve until SIGTERM/SIGINT."""
    settings = parse_settings(
        LearnerSettings, sys.argv[1:] if argv is None else argv, "fraudstream serve learner"
    )
    setup_logging(settings.log_level, settings.log_format, service="learner")
    metrics = LearnerMetrics()
    try:
        deps = open_deps(settings, metrics)
    except (BundleError, StateError, OSError, ValueError) as exc:
        logger.error("learner cannot start: %s", exc)
        return 1
    try:
        service = build_server(settings, deps)
    except ValueError as exc:  # a tokens or TLS file that cannot be used
        logger.error("learner cannot start: %s", exc)
        return 2
    port = start_metrics_server(settings.host, settings.metrics_port, metrics.registry)
    logger.info("metrics on %s:%d/metrics", settings.host, port)
    warm_up_in_background()
    return run(service, grace=settings.grace_seconds)


if __name__ == "__main__":
    sys.exit(main())
