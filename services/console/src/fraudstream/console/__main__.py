"""Run the analyst console: `fraudstream serve console` or `python -m fraudstream.console`."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from fraudstream.common.logs import setup_logging
from fraudstream.common.runner import start_metrics_server
from fraudstream.common.settings import parse_settings
from fraudstream.console.metrics import ConsoleMetrics
from fraudstream.console.roles import RoleBook
from fraudstream.console.server import ConsoleDeps, build_console
from fraudstream.console.settings import ConsoleSettings

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse settings, set up logging and metrics, serve HTTP until SIGTERM/SIGINT."""
    settings = parse_settings(
        ConsoleSettings, sys.argv[1:] if argv is None else argv, "fraudstream serve console"
    )
    setup_logging(settings.log_level, settings.log_format, service="console")
    metrics = ConsoleMetrics()
    try:
        roles = RoleBook(settings.analyst_tokens_file, settings.analyst_tokens)
        server = build_console(settings, ConsoleDeps(metrics=metrics, roles=roles))
    except (ValueError, OSError) as exc:
        print(f"fraudstream serve console: {exc}", file=sys.stderr)
        return 2
    metrics_port = start_metrics_server(settings.host, settings.metrics_port, metrics.registry)
    logger.info("metrics on %s:%d/metrics", settings.host, metrics_port)

    stopping = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)
    server.start()
    logger.info(
        "console serving http://%s:%d/",
        server.host,
        server.port,
        extra={"http_port": server.port},
    )
    stopping.wait()
    server.stop(settings.grace_seconds)
    logger.info("console stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
