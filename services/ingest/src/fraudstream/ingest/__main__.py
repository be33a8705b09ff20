"""Run the ingest bridge: `fraudstream serve ingest` or `python -m fraudstream.ingest`."""

from __future__ import annotations

import logging
import sys

from fraudstream.common.lifecycle import run
from fraudstream.common.logs import setup_logging
from fraudstream.common.runner import start_metrics_server
from fraudstream.common.settings import parse_settings
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.server import IngestDeps, build_server
from fraudstream.ingest.settings import IngestSettings

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse settings, run the bridge until SIGTERM/SIGINT (or its failure), then drain."""
    settings = parse_settings(
        IngestSettings, sys.argv[1:] if argv is None else argv, "fraudstream serve ingest"
    )
    setup_logging(settings.log_level, settings.log_format, service="ingest")
    deps = IngestDeps(metrics=IngestMetrics())
    try:
        service = build_server(settings, deps)
    except ValueError as exc:  # a tokens or TLS file that cannot be used
        print(f"fraudstream serve ingest: {exc}", file=sys.stderr)
        return 2
    metrics_port = start_metrics_server(settings.host, settings.metrics_port, deps.metrics.registry)
    logger.info("metrics on %s:%d/metrics", settings.host, metrics_port)
    logger.info("group %s, instance id %s", settings.group_id, settings.member_id())
    return run(service, grace=settings.grace_seconds)


if __name__ == "__main__":
    sys.exit(main())
