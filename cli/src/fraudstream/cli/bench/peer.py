"""Seldon MLServer 1.7 serving the bundle's IsolationForest over its V2 gRPC API, as the peer.

MLServer lives in its own virtual environment (created on first use, then reused), serves the
very `isolation_forest.joblib` of the bundle through a small custom runtime (score_samples), and
is driven by a client running in that environment with the same timing code as ours.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import click
import numpy as np

from fraudstream.cli.bench.workload import say
from fraudstream.cli.ports import free_port
from fraudstream.model.bundle import read_manifest

logger = logging.getLogger(__name__)

# uvloop 0.22 breaks MLServer 1.7.1's inference workers ("There is no current event loop",
# SeldonIO/MLServer#2286, unreleased fix #2285); mlflow pins it below 0.22 for the same reason.
PINS = ("mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22")
MODEL_NAME = "isolation-forest"
_HERE = Path(__file__).resolve().parent
_MARKER = "fraudstream-bench.json"


def _sklearn_pin() -> str:
    from importlib.metadata import version

    return f"scikit-learn=={version('scikit-learn')}"


def ensure_venv(venv: Path) -> Path:
    """MLServer's interpreter: reuse `venv` if it holds the pinned install, else (re)build it."""
    python = venv / "bin" / "python"
    pins = [*PINS, _sklearn_pin()]
    marker = venv / _MARKER
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == pins:
        say(f"reusing MLServer venv {venv}")
        return python
    say(f"creating MLServer venv {venv} ({', '.join(pins)}; a minute or two from PyPI)")
    if venv.exists():
        shutil.rmtree(venv)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if install.returncode != 0:
        tail = "\n".join(install.stderr.splitlines()[-15:])
        raise click.ClickException(f"pip install {' '.join(pins)} failed:\n{tail}")
    marker.write_text(json.dumps(pins))
    return python


def _model_repository(root: Path, models: Path, ports: dict[str, int]) -> Path:
    """MLServer's folder: server settings and one model (the bundle's IF + custom runtime)."""
    manifest = read_manifest(models)
    artifact = manifest["detectors"]["isolation_forest"]["artifact"]
    if root.exists():
        shutil.rmtree(root)
    folder = root / MODEL_NAME
    folder.mkdir(parents=True)
    shutil.copyfile(models / artifact, folder / "model.joblib")
    shutil.copyfile(_HERE / "mlserver_runtime.py", folder / "if_runtime.py")
    (folder / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MODEL_NAME,
                "implementation": "if_runtime.IsolationForestRuntime",
                "parameters": {"uri": "./model.joblib", "version": "v1"},
            },
            indent=2,
        )
    )
    # Default server settings except the addresses: what a user starting MLServer would get.
    (root / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": ports["http"],
                "grpc_port": ports["grpc"],
                "metrics_port": ports["metrics"],
            },
            indent=2,
        )
    )
    return root


def _wait_http_ready(
    port: int, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    url = f"http://127.0.0.1:{port}/v2/models/{MODEL_NAME}/ready"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise click.ClickException(f"MLServer exited during start-up:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise click.ClickException(f"MLServer's model was not ready within {timeout:.0f} s (log {log})")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to MLServer's session (it forks inference workers), SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    # Workers of a stopped server must not outlive it (same session id as the server's pid).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run_mlserver(
    venv: Path, workdir: Path, models: Path, rows: np.ndarray, plan: dict[str, Any]
) -> dict[str, Any]:
    """Start MLServer on the IF, run the client against it, stop it; the client's figures."""
    python = ensure_venv(venv)
    ports = {"http": free_port(), "grpc": free_port(), "metrics": free_port()}
    root = _model_repository(workdir / "mlserver", models, ports)
    rows_path, plan_path = workdir / "mlserver-rows.npy", workdir / "mlserver-plan.json"
    np.save(rows_path, rows)
    plan_path.write_text(json.dumps(plan))
    log = workdir / "mlserver.log"
    mlserver = str(python.parent / "mlserver")
    say(f"starting MLServer on 127.0.0.1:{ports['grpc']} (log {log})")
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [mlserver, "start", str(root)],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=root,
            start_new_session=True,
        )
    try:
        began = time.monotonic()
        _wait_http_ready(ports["http"], process, log, timeout=120)
        startup = time.monotonic() - began
        say(
            f"MLServer ready in {startup:.1f}s; one-row latency, then {plan['rows_per_request']} "
            "rows per request"
        )
        client = subprocess.run(
            [
                str(python),
                str(_HERE / "mlserver_client.py"),
                f"127.0.0.1:{ports['grpc']}",
                MODEL_NAME,
                str(rows_path),
                str(plan_path),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if client.returncode != 0:
            raise click.ClickException(f"MLServer client failed:\n{client.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(client.stdout)
    finally:
        _stop(process)
    version = subprocess.run(
        [
            str(python),
            "-c",
            "import mlserver, sklearn; print(mlserver.__version__, sklearn.__version__)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    figures["startup_seconds"] = startup
    figures["versions"] = {"mlserver": version[0], "scikit-learn": version[1]} if version else {}
    figures["settings"] = "MLServer defaults (parallel_workers 1) except host and ports"
    return figures
