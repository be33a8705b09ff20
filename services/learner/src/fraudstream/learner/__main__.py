"""Run the learner service: `fraudstream serve learner` or `python -m fraudstream.learner`."""

from __future__ import annotations

import logging
import sys

from fraudstream.common.logs import setup_logging
from fraudstream.common.runner import run_until_signalled, start_metrics_server
from fraudstream.common.settings import parse_settings
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.server import LearnerDeps, build_server
from fraudstream.learner.settings import LearnerSettings

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse settings, set up logging and metrics, serve until SIGTERM/SIGINT."""
    settings = parse_settings(
        LearnerSettings, sys.argv[1:] if argv is None else argv, "fraudstream serve learner"
    )
    setup_logging(settings.log_level, settings.log_format, service="learner")
    metrics = LearnerMetrics()
    service = build_server(settings, LearnerDeps(metrics=metrics))
    metrics_port = start_metrics_server(settings.host, settings.metrics_port, metrics.registry)
    logger.info("metrics on %s:%d/metrics", settings.host, metrics_port)
    run_until_signalled(
        service,
        name="learner",
        grace=settings.grace_seconds,
        on_start=lambda: service.set_serving(True),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
