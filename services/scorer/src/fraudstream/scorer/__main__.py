"""Run the scorer service: `fraudstream serve scorer` or `python -m fraudstream.scorer`."""

from __future__ import annotations

import logging
import socket
import sys
import threading

from fraudstream.common.logs import setup_logging
from fraudstream.common.runner import run_until_signalled, start_metrics_server
from fraudstream.common.settings import parse_settings
from fraudstream.scorer.applied import AppliedSnapshots
from fraudstream.scorer.loader import load_until_ready
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.models import ModelHolder, model_verifier
from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.scorer.sync import SnapshotSync

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse settings, load the bundle (retrying), serve until SIGTERM/SIGINT."""
    settings = parse_settings(
        ScorerSettings, sys.argv[1:] if argv is None else argv, "fraudstream serve scorer"
    )
    setup_logging(settings.log_level, settings.log_format, service="scorer")
    verifier = model_verifier(settings.model_verify_keys)
    deps = ScorerDeps(metrics=ScorerMetrics(), holder=ModelHolder(verifier=verifier))
    service = build_server(settings, deps)
    scorer_id = settings.scorer_id or f"{socket.gethostname()}:{service.port}"
    deps.holder.applied = AppliedSnapshots.of_scorer(settings.data_dir, scorer_id)
    metrics_port = start_metrics_server(settings.host, settings.metrics_port, deps.metrics.registry)
    logger.info("metrics on %s:%d/metrics", settings.host, metrics_port)
    stop = threading.Event()
    sync = (
        SnapshotSync(
            settings.learner_addr,
            scorer_id,
            deps.holder,
            deps.metrics,
        )
        if settings.learner_addr
        else None
    )

    # on_loaded (loader thread) and on_stop (signal) may race: the lock makes the sync start
    # either before the stop, which then stops it, or not at all.
    lock = threading.Lock()
    sync_started = False

    def on_loaded(_model: object) -> None:
        nonlocal sync_started
        with lock:
            if stop.is_set():
                return
            service.set_serving(True)
            if sync is not None:
                sync.start()
                sync_started = True

    loader = threading.Thread(
        target=load_until_ready,
        args=(settings.models, deps.holder, deps.metrics, stop, settings.model_retry_seconds),
        kwargs={"on_loaded": on_loaded},
        name="bundle-loader",
        daemon=True,
    )

    def on_stop() -> None:
        # Any state: no bundle yet (nothing to stop but the loader), loading, or serving.
        with lock:
            stop.set()
            if sync is not None and sync_started:
                sync.stop()

    run_until_signalled(
        service, name="scorer", grace=settings.grace_seconds, on_start=loader.start, on_stop=on_stop
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
