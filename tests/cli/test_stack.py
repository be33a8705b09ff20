"""The process orchestrator with real service processes and a real broker."""

from __future__ import annotations

import os
import signal
import urllib.request
from pathlib import Path

import pytest

from fraudstream.cli.kafka.admin import list_topics
from fraudstream.cli.ports import free_port, free_ports, port_is_free
from fraudstream.cli.stack import PIDS_FILE, Stack, StackError, stop_detached

pytestmark = pytest.mark.integration

_FEEDBACK_ARGS = ("--no-publish-labels", "--grace-seconds", "2")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state == "Z"


def test_free_port_is_bindable():
    assert port_is_free(free_port())


def test_services_serve_and_stop_in_reverse_order(tmp_path: Path):
    with Stack(tmp_path) as stack:
        first = stack.start_service("feedback", *_FEEDBACK_ARGS, "--data-dir", "a")
        second = stack.start_service("feedback", *_FEEDBACK_ARGS, "--data-dir", "b")
        assert first.wait_serving(30) >= 0 and second.wait_serving(30) >= 0
        assert first.port != second.port and first.address.endswith(f":{first.port}")
        body = urllib.request.urlopen(first.metrics_url, timeout=5).read().decode()
        assert "feedback_requests_total" in body
        assert [first.log_path.name, second.log_path.name] == ["feedback.log", "feedback-1.log"]
        pids = [first.process.pid, second.process.pid]
    assert all(_gone(pid) for pid in pids)
    assert first.process.returncode == 0 and second.process.returncode == 0
    assert "stopped" in first.log_path.read_text()


def test_an_exception_stops_everything(tmp_path: Path):
    with pytest.raises(RuntimeError, match="boom"), Stack(tmp_path) as stack:
        service = stack.start_service("feedback", *_FEEDBACK_ARGS)
        service.wait_serving(30)
        raise RuntimeError("boom")
    assert _gone(service.process.pid)


def test_a_service_that_cannot_start_says_why(tmp_path: Path):
    with Stack(tmp_path) as stack:
        broken = stack.start_service("feedback", "--lease-seconds", "-1")
        with pytest.raises(StackError, match="exited with code 2") as failure:
            broken.wait_serving(30)
        assert "lease-seconds" in str(failure.value)


def test_a_service_that_ignores_sigterm_is_killed(tmp_path: Path):
    with Stack(tmp_path) as stack:
        service = stack.start_service("feedback", *_FEEDBACK_ARGS)
        service.wait_serving(30)
        service.process.send_signal(signal.SIGSTOP)  # cannot act on SIGTERM any more
        assert service.stop(grace=1) == -signal.SIGKILL


def test_kafka_and_a_detached_stack_stopped_later(tmp_path: Path):
    stack = Stack(tmp_path)
    with stack:
        bootstrap = stack.start_kafka()
        assert "transactions.scored" in list_topics(bootstrap, timeout=10)
        service = stack.start_service(
            "feedback", "--kafka-bootstrap", bootstrap, "--grace-seconds", "2"
        )
        service.wait_serving(30)
        assert (tmp_path / "kafka" / "kafka.pid").is_file()
        pids_file = stack.detach()
    assert pids_file == tmp_path / PIDS_FILE
    assert not _gone(service.process.pid), "a detached stack keeps running"

    stopped = stop_detached(tmp_path)
    assert stopped == [f"feedback (pid {service.process.pid})", "kafka"]
    service.process.wait(timeout=5)
    assert not pids_file.exists() and not (tmp_path / "kafka" / "kafka.pid").exists()
    assert port_is_free(int(bootstrap.rsplit(":", 1)[1]))
    assert stop_detached(tmp_path) == []


def test_a_stack_never_hands_out_one_port_twice(tmp_path, monkeypatch):
    # The OS may report a port free again before the process given it binds it: a service
    # once got the same port for its gRPC and metrics servers and exited.
    reported = iter([41417, 41417, 41417, 41418, 41419])
    monkeypatch.setattr("fraudstream.cli.stack.free_port", lambda: next(reported))
    stack = Stack(tmp_path)
    assert [stack._new_port(), stack._new_port(), stack._new_port()] == [41417, 41418, 41419]


def test_free_ports_are_distinct_and_free():
    ports = free_ports(16)
    assert len(set(ports)) == 16 and all(port_is_free(p) for p in ports)
