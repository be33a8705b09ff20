"""One lifecycle for every service: a gRPC server and its workers, started and stopped in one order.

A service is its gRPC server plus workers: background work such as a Kafka loop, a model
loader or a stream client. `build_server()` in each service returns a `Service` with its
workers; `run()` starts it and, on SIGTERM or SIGINT, stops it in the one order that keeps
callers safe:

1. health turns NOT_SERVING (balancers and readiness probes stop sending work);
2. workers stop, newest first (each ends its loops and long-lived streams, draining what it
   holds within its own bound);
3. in-flight RPCs get the grace period to finish, then the server stops.

A worker that fails turns health NOT_SERVING and makes `run()` return 1, so a supervisor
restarts the process instead of leaving a healthy-looking shell.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Protocol

from grpc_health.v1 import health

from fraudstream.common.collector import freeze_startup
from fraudstream.common.grpc_server import GrpcService

logger = logging.getLogger(__name__)


class Worker(Protocol):
    """Background work a service runs beside its gRPC server (a `name` attribute, if it has
    one, names it in logs)."""

    def start(self) -> None:
        """Begin the work; return at once (the work runs in its own thread)."""

    def stop(self) -> None:
        """End the work and return when it has ended or its own time bound has passed."""


class ThreadWorker:
    """A worker whose body runs in one thread until the stop event is set.

    `target(stop)` should return soon after `stop` is set. If it raises, `on_failure` is
    called (the service turns NOT_SERVING and will exit with status 1).
    """

    def __init__(
        self,
        name: str,
        target: Callable[[threading.Event], None],
        *,
        join_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self._target = target
        self._join_timeout = join_timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_failure: Callable[[str, BaseException], None] | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._target(self._stop)
        except Exception as exc:
            logger.exception("worker %s stopped on an error", self.name)
            if self.on_failure is not None:
                self.on_failure(self.name, exc)

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        thread.join(self._join_timeout)
        if thread.is_alive():
            logger.warning("worker %s did not stop within %.0fs", self.name, self._join_timeout)


@dataclass
class StopHook:
    """A worker with nothing to start: `stop` ends something the servicer holds (its streams)."""

    name: str
    on_stop: Callable[[], None]

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.on_stop()


@dataclass
class Service:
    """A built service: its gRPC server and its workers, not yet started."""

    name: str
    grpc: GrpcService
    workers: list[Worker] = field(default_factory=list)
    # True: SERVING as soon as the server and workers started. False: a worker (a model
    # loader, a Kafka loop) calls set_serving(True) when the service can do its work.
    ready_when_started: bool = False
    failed: threading.Event = field(default_factory=threading.Event)
    _started: list[Worker] = field(default_factory=list)
    _stopped: bool = False

    @property
    def port(self) -> int:
        """The bound gRPC port."""
        return self.grpc.port

    @property
    def health(self) -> health.HealthServicer:
        return self.grpc.health

    def set_serving(self, serving: bool) -> None:
        """SERVING or NOT_SERVING for every service name; ignored once stopping began."""
        if serving and (self._stopped or self.failed.is_set()):
            return
        self.grpc.set_serving(serving)

    def add_worker(self, worker: Worker) -> None:
        self.workers.append(worker)

    def start(self) -> None:
        """Start the server, then each worker in order."""
        self.grpc.start()
        for worker in self.workers:
            if isinstance(worker, ThreadWorker):
                worker.on_failure = self._on_worker_failure
            worker.start()
            self._started.append(worker)
        if self.ready_when_started:
            self.set_serving(True)

    def _on_worker_failure(self, name: str, _exc: BaseException) -> None:
        self.failed.set()
        self.grpc.set_serving(False)

    def stop(self, grace: float) -> None:
        """NOT_SERVING, then workers newest first, then drain in-flight RPCs for `grace` s."""
        if self._stopped:
            return
        self._stopped = True
        self.grpc.health.enter_graceful_shutdown()
        for worker in reversed(self._started):
            try:
                worker.stop()
            except Exception:
                logger.exception("stopping worker %s failed", _name(worker))
        self._started.clear()
        self.grpc.server.stop(grace).wait()


def _name(worker: Worker) -> str:
    return str(getattr(worker, "name", type(worker).__name__))


def run(service: Service, *, grace: float) -> int:
    """Start `service`, block until SIGTERM/SIGINT or a worker fails, then stop it gracefully.

    Returns the process exit status: 0 after a signal, 1 when a worker failed.
    """
    stopping = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        service.start()
        freeze_startup()  # startup's objects out of every later collection
        logger.info(
            "%s serving gRPC on port %d",
            service.name,
            service.port,
            extra={"grpc_port": service.port},
        )
        while not stopping.wait(0.5):
            if service.failed.is_set():
                logger.error("%s: a worker failed; stopping", service.name)
                break
        service.stop(grace)
        logger.info("%s stopped", service.name)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if service.failed.is_set() else 0
