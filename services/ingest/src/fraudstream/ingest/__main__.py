"""Run the ingest bridge: `fraudstream serve ingest` or `python -m fraudstream.ingest`."""

from __future__ import annotations

import logging
import sys
import threading

from fraudstream.common.logs import setup_logging
from fraudstream.common.runner import run_until_signalled, start_metrics_server
from fraudstream.common.settings import parse_settings
from fraudstream.ingest.assembly import IngestBridge
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.server import IngestDeps, build_server
from fraudstream.ingest.settings import IngestSettings

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse settings, run the Kafka bridge, serve health until SIGTERM/SIGINT, then drain."""
    settings = parse_settings(
        IngestSettings, sys.argv[1:] if argv is None else argv, "fraudstream serve ingest"
    )
    setup_logging(settings.log_level, settings.log_format, service="ingest")
    deps = IngestDeps(metrics=IngestMetrics())
    service = build_server(settings, deps)
    metrics_port = start_metrics_server(settings.host, settings.metrics_port, deps.metrics.registry)
    logger.info("metrics on %s:%d/metrics", settings.host, metrics_port)
    bridge = IngestBridge(settings, deps.metrics)
    stop = threading.Event()
    failed = threading.Event()

    def run_bridge() -> None:
        try:
            bridge.run(stop, drain_seconds=settings.grace_seconds)
        except Exception:
            logger.exception("the bridge stopped on an error")
            failed.set()
            service.set_serving(False)

    bridge_thread = threading.Thread(target=run_bridge, name="bridge")

    def on_start() -> None:
        bridge_thread.start()
        if bridge.running.wait(30):
            service.set_serving(True)

    def on_stop() -> None:
        stop.set()
        bridge_thread.join(timeout=settings.grace_seconds + 15)

    run_until_signalled(
        service, name="ingest", grace=settings.grace_seconds, on_start=on_start, on_stop=on_stop
    )
    return 1 if failed.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
