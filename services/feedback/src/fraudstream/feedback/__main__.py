"""Run the feedback service: `fraudstream serve feedback` or `python -m fraudstream.feedback`."""

from __future__ import annotations

import logging
import sys

from fraudstream.common.lifecycle import run
from fraudstream.common.logs import setup_logging
from fraudstream.common.runner import start_metrics_server
from fraudstream.common.settings import parse_settings
from fraudstream.feedback.core import FeedbackCore
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.server import FeedbackDeps, build_server
from fraudstream.feedback.settings import FeedbackSettings

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse settings, set up logging and metrics, serve until SIGTERM/SIGINT."""
    settings = parse_settings(
        FeedbackSettings, sys.argv[1:] if argv is None else argv, "fraudstream serve feedback"
    )
    setup_logging(settings.log_level, settings.log_format, service="feedback")
    metrics = FeedbackMetrics()
    feedback = FeedbackCore(settings, metrics)
    try:
        try:
            service = build_server(settings, FeedbackDeps(metrics=metrics, feedback=feedback))
        except ValueError as exc:  # a malformed token entry, tokens file or TLS file
            print(f"fraudstream serve feedback: invalid settings: {exc}", file=sys.stderr)
            return 2
        port = start_metrics_server(settings.host, settings.metrics_port, metrics.registry)
        logger.info("metrics on %s:%d/metrics", settings.host, port)
        return run(service, grace=settings.grace_seconds)
    finally:
        feedback.close()


if __name__ == "__main__":
    sys.exit(main())
