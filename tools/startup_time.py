"""Wall and CPU time from exec to SERVING of the scorer or the learner, worst of several runs.

    python tools/startup_time.py scorer --models var/experiment/models --runs 5

Each run starts `python -m fraudstream.<service>` on free ports with its own state directory
(kept between runs, so runs after the first are warm restarts), polls gRPC health every 20 ms
from just before the exec until SERVING, then stops the process with SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.common.transport import FAST_RECONNECT, PLAINTEXT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one_start(service: str, models: Path, state: Path, log: Path) -> tuple[float, float]:
    """(wall seconds from exec to SERVING, CPU seconds the process used by then)."""
    port, metrics_port = _free_port(), _free_port()
    command = [sys.executable, "-m", f"fraudstream.{service}", "--port", str(port)]
    command += ["--metrics-port", str(metrics_port), "--models", str(models)]
    command += ["--learner-addr" if service == "scorer" else "--feedback-addr", ""]
    env = {**os.environ, "FRAUDSTREAM_DATA_DIR": str(state), "FRAUDSTREAM_LOG_FORMAT": "text"}
    env["FRAUDSTREAM_INSECURE_ALLOW_ANONYMOUS"] = "true"
    began = time.monotonic()
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        with PLAINTEXT.channel(f"127.0.0.1:{port}", FAST_RECONNECT) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while process.poll() is None:
                try:
                    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return time.monotonic() - began, _cpu_seconds(process.pid)
                except grpc.RpcError:
                    pass
                time.sleep(0.02)
        raise RuntimeError(f"{service} exited with {process.returncode}; see {log}")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=("scorer", "learner"))
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--state", type=Path, help="state directory (default: a fresh one)")
    args = parser.parse_args()
    state = args.state or Path(tempfile.mkdtemp(prefix=f"startup-{args.service}-"))
    log = state / f"{args.service}.log"
    state.mkdir(parents=True, exist_ok=True)
    starts = [_one_start(args.service, args.models.resolve(), state, log) for _ in range(args.runs)]
    seconds = [round(wall, 2) for wall, _ in starts]
    cpu = [round(used, 2) for _, used in starts]
    print(
        json.dumps(
            {
                "service": args.service,
                "runs": seconds,
                "worst_s": max(seconds),
                "cpu_s": cpu,
                "worst_cpu_s": max(cpu),
                "load_average": [round(v, 2) for v in os.getloadavg()],
                "log": str(log),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
