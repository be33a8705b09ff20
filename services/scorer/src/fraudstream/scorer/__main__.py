"""Run the scorer service: `fraudstream serve scorer` or `python -m fraudstream.scorer`."""

from __future__ import annotations

import logging
import sys

from fraudstream.common.lifecycle import run
from fraudstream.common.logs import setup_logging
from fraudstream.common.runner import start_metrics_server
from fraudstream.common.settings import parse_settings
from fraudstream.scorer.applied import AppliedSnapshots
from fraudstream.scorer.loader import model_verifier
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.server import ScorerDeps, build_server, scorer_id
from fraudstream.scorer.serving_model import ModelHolder
from fraudstream.scorer.settings import ScorerSettings

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse settings, serve until SIGTERM/SIGINT; the bundle loads (retrying) meanwhile."""
    settings = parse_settings(
        ScorerSettings, sys.argv[1:] if argv is None else argv, "fraudstream serve scorer"
    )
    setup_logging(settings.log_level, settings.log_format, service="scorer")
    verifier = model_verifier(settings.model_verify_keys)
    deps = ScorerDeps(metrics=ScorerMetrics(), holder=ModelHolder(verifier=verifier))
    try:
        service = build_server(settings, deps)
    except ValueError as exc:  # a tokens or TLS file that cannot be used
        print(f"fraudstream serve scorer: {exc}", file=sys.stderr)
        return 2
    # Before the loader starts (run() starts it): a restart serves its last snapshot again.
    deps.holder.applied = AppliedSnapshots.of_scorer(
        settings.data_dir, scorer_id(settings, service.port)
    )
    metrics_port = start_metrics_server(settings.host, settings.metrics_port, deps.metrics.registry)
    logger.info("metrics on %s:%d/metrics", settings.host, metrics_port)
    return run(service, grace=settings.grace_seconds)


if __name__ == "__main__":
    sys.exit(main())
