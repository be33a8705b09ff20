"""The broker's process seen from outside: its pid file, whether a pid is it, its logs' tails,
and the status `fraudstream kafka status` reports."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    """The pid a pid file holds, or None when it is missing or garbled."""
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def runs_broker(pid: int, properties_file: Path) -> bool:
    """True when `pid` is a live Kafka broker started with this server.properties."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no procfs: trust the pid file if the process exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    # A reused pid belongs to some other program; a zombie has exited already.
    return state != "Z" and b"kafka.Kafka" in cmdline and str(properties_file).encode() in cmdline


def wait_exit(pid: int, alive: Callable[[int], bool], timeout: float) -> bool:
    """Poll until `alive(pid)` is False; True if that happened within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def log_tails(paths: Sequence[Path], offsets: Mapping[Path, int], lines: int) -> str:
    """The last lines each file got after its offset, one headed part per file ("" if none)."""
    parts = []
    for path in paths:
        if not path.is_file():
            continue
        with path.open("rb") as log:
            log.seek(offsets.get(path, 0))
            tail = log.read().decode(errors="replace").splitlines()[-lines:]
        if tail:
            parts.append(f"--- last {len(tail)} lines of {path} ---\n" + "\n".join(tail))
    return "\n".join(parts)


@dataclass(frozen=True)
class BrokerStatus:
    """What `fraudstream kafka status` reports."""

    running: bool
    pid: int | None
    bootstrap: str
    data_dir: Path
    log_file: Path
    topics: dict[str, int] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "running": self.running,
            "pid": self.pid,
            "bootstrap": self.bootstrap,
            "data_dir": str(self.data_dir),
            "log_file": str(self.log_file),
            "topics": self.topics,
            "error": self.error,
        }
