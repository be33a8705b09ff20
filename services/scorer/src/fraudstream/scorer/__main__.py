"""Run the scorer service: `fraudstream serve scorer` or `python -m fraudstream.scorer`."""

from __future__ import annotations

import logging
import sys

from fraudstream.common.lifecycle import run
from fraudstream.common.logs import setup_logging
from fraudstream.common.runner import start_metrics_server
from fraudstream.common.settings import parse_settings
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.models import ModelHolder
from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.settings import ScorerSettings

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse settings, serve until SIGTERM/SIGINT; the bundle loads (retrying) meanwhile."""
    settings = parse_settings(
        ScorerSettings, sys.argv[1:] if argv is None else argv, "fraudstream serve scorer"
    )
    setup_logging(settings.log_level, settings.log_format, service="scorer")
    deps = ScorerDeps(metrics=ScorerMetrics(), holder=ModelHolder())
    try:
        service = build_server(settings, deps)
    except ValueError as exc:  # a tokens or TLS file that cannot be used
        print(f"fraudstream serve scorer: {exc}", file=sys.stderr)
        return 2
    metrics_port = start_metrics_server(settings.host, settings.metrics_port, deps.metrics.registry)
    logger.info("metrics on %s:%d/metrics", settings.host, metrics_port)
    return run(service, grace=settings.grace_seconds)


if __name__ == "__main__":
    sys.exit(main())
