"""The shared lifecycle: start order, one stop order, worker failure, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.common.grpc_server import build_grpc_service
from fraudstream.common.lifecycle import Service, StopHook, ThreadWorker


def _build(workers: list) -> Service:  # type: ignore[type-arg]
    grpc_service = build_grpc_service(
        host="127.0.0.1", port=0, max_workers=2, service_names=(), register=lambda _s: None
    )
    return Service(name="test", grpc=grpc_service, workers=workers)


def _health(port: int) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return int(stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status)


def test_workers_stop_newest_first_after_health_turns_not_serving() -> None:
    events: list[str] = []
    service: Service

    def loop(stop: threading.Event) -> None:
        events.append("loop started")
        stop.wait()
        events.append(f"loop stopped, health {_health(service.port)}")

    service = _build(
        [ThreadWorker("loop", loop), StopHook("streams", lambda: events.append("streams closed"))]
    )
    service.start()
    service.set_serving(True)
    assert _health(service.port) == health_pb2.HealthCheckResponse.SERVING
    service.stop(grace=1)
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    assert events == ["loop started", "streams closed", f"loop stopped, health {not_serving}"]
    service.set_serving(True)  # too late: a stopping service never claims SERVING again
    service.stop(grace=1)  # a second stop is harmless


def test_a_failing_worker_turns_health_not_serving() -> None:
    def broken(_stop: threading.Event) -> None:
        raise RuntimeError("broker unreachable")

    service = _build([ThreadWorker("broken", broken)])
    service.start()
    service.set_serving(True)
    assert service.failed.wait(5)
    service.set_serving(True)
    try:
        assert _health(service.port) == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        service.stop(grace=0)


_SCRIPT = textwrap.dedent(
    """
    import gc, sys, threading, time
    from fraudstream.common.grpc_server import build_grpc_service
    from fraudstream.common.lifecycle import Service, ThreadWorker, run

    def body(stop):
        if sys.argv[1] == "fail":
            raise RuntimeError("boom")
        if sys.argv[1] == "frozen":  # run() freezes once the service started
            deadline = time.monotonic() + 10
            while not gc.get_freeze_count() and time.monotonic() < deadline:
                time.sleep(0.01)
            print(gc.get_freeze_count(), flush=True)
        print("ready", flush=True)
        stop.wait()

    grpc_service = build_grpc_service(
        host="127.0.0.1", port=0, max_workers=2, service_names=(), register=lambda s: None
    )
    sys.exit(run(Service("demo", grpc_service, [ThreadWorker("body", body)]), grace=1))
    """
)


def _script(tmp_path: Path) -> Path:
    script = tmp_path / "service.py"
    script.write_text(_SCRIPT)
    return script


def _serve(tmp_path: Path, mode: str) -> subprocess.Popen[str]:
    """The demo service in a process of its own, its stdout piped."""
    return subprocess.Popen(
        [sys.executable, str(_script(tmp_path)), mode], stdout=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_process_promptly(tmp_path: Path, signum: int) -> None:
    process = _serve(tmp_path, "serve")
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        started = time.monotonic()
        os.kill(process.pid, signum)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        process.kill()


def test_a_failed_worker_ends_the_process_with_status_1(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(_script(tmp_path)), "fail"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1
    assert "boom" in result.stderr


def test_startup_objects_are_frozen_out_of_later_collections(tmp_path: Path) -> None:
    process = _serve(tmp_path, "frozen")
    try:
        assert process.stdout is not None
        frozen = int(process.stdout.readline())
        # grpc, protobuf and the lifecycle's own modules: thousands of objects no full
        # collection walks again.
        assert frozen > 5_000, frozen
        assert process.stdout.readline().strip() == "ready"
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
