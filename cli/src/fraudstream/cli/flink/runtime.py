"""The Flink runtime on this machine: its own virtualenv (apache-flink) and the Kafka connector jar.

apache-flink pins its own numpy, pandas, protobuf and grpcio, which conflict with the
workspace's lock, so it lives in a separate venv under .cache/flink, installed from
flink/requirements.txt with `--require-hashes`. The connector jar comes from Maven Central
through flink/pom.xml, as the broker's jars do through deploy/kafka/pom.xml.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fraudstream.cli.kafka.jars import fetch_command

logger = logging.getLogger(__name__)

FLINK_DIR = Path("flink")
_MAVEN_NS = "{http://maven.apache.org/POM/4.0.0}"
# Written into the venv once its install finished: the sha256 of the requirements it holds.
_MARKER = "fraudstream-requirements.sha256"


class FlinkSetupError(RuntimeError):
    """The Flink venv or connector jar is missing or cannot be installed; the message says why."""


def find_root(start: Path | None = None) -> Path:
    """The repository root: the first directory above `start` (cwd) or this file with flink/."""
    for origin in ((start or Path.cwd()).resolve(), Path(__file__).resolve().parent):
        for directory in (origin, *origin.parents):
            if (directory / FLINK_DIR / "requirements.txt").is_file():
                return directory
    raise FlinkSetupError(
        f"cannot find {FLINK_DIR}/requirements.txt above {Path.cwd()}: "
        "run from the fraudstream repository"
    )


@dataclass(frozen=True)
class FlinkRuntime:
    """Paths of one checkout's Flink venv, connector jar and job runner."""

    root: Path

    @classmethod
    def locate(cls, start: Path | None = None) -> FlinkRuntime:
        """The runtime of the repository around `start` (default: the current directory)."""
        return cls(find_root(start))

    @property
    def requirements(self) -> Path:
        """Pinned apache-flink and its dependencies, with hashes."""
        return self.root / FLINK_DIR / "requirements.txt"

    @property
    def pom(self) -> Path:
        """The Maven project naming the connector jar."""
        return self.root / FLINK_DIR / "pom.xml"

    @property
    def runner(self) -> Path:
        """The script the Flink venv's python runs: it executes a job file's statements."""
        return self.root / FLINK_DIR / "runner.py"

    @property
    def venv(self) -> Path:
        """The Flink virtualenv (about 700 MB)."""
        return self.root / ".cache" / "flink" / "venv"

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.venv / "bin" / "python"

    def prometheus_jar(self) -> Path | None:
        """Flink's Prometheus reporter, shipped in the wheel's plugins/ (None before install)."""
        jars = self.venv.glob("lib/python3*/site-packages/pyflink/plugins/metrics-prometheus/*.jar")
        return next(iter(sorted(jars)), None)

    @property
    def connector_version(self) -> str:
        """`connector.version` of flink/pom.xml, e.g. 5.0.0-2.2 (suffix: the Flink line)."""
        root = ET.parse(self.pom).getroot()
        version = root.findtext(f"{_MAVEN_NS}properties/{_MAVEN_NS}connector.version")
        if not version:
            raise FlinkSetupError(f"{self.pom} does not set the <connector.version> property")
        return version.strip()

    @property
    def lib_dir(self) -> Path:
        """Where the connector jar is copied."""
        return self.root / ".cache" / "flink" / self.connector_version / "lib"

    @property
    def connector_jar(self) -> Path:
        """The shaded Kafka SQL connector PyFlink adds to `pipeline.jars`."""
        return self.lib_dir / f"flink-sql-connector-kafka-{self.connector_version}.jar"

    def venv_present(self) -> bool:
        """True when the venv finished installing exactly the current requirements."""
        marker = self.venv / _MARKER
        return marker.is_file() and marker.read_text().strip() == self._requirements_digest()

    def jar_present(self) -> bool:
        """True when the connector jar is in the cache."""
        return self.connector_jar.is_file()

    def install_venv(self, progress: Callable[[str], None] = logger.info) -> float:
        """Create the venv and install the pinned requirements; return the seconds taken."""
        began = time.monotonic()
        uv = shutil.which("uv")
        if uv is not None:
            create = [uv, "venv", "-q", "--allow-existing", "--python", sys.executable]
            install = [uv, "pip", "install", "-q", "--python", str(self.python)]
        else:
            create = [sys.executable, "-m", "venv"]
            install = [str(self.python), "-m", "pip", "install", "-q", "--no-input"]
        (self.venv / _MARKER).unlink(missing_ok=True)
        progress(f"creating {self.venv}")
        _run([*create, str(self.venv)])
        progress(f"installing {self.requirements.relative_to(self.root)} (about 700 MB)")
        _run([*install, "--require-hashes", "-r", str(self.requirements)])
        (self.venv / _MARKER).write_text(self._requirements_digest() + "\n")
        return time.monotonic() - began

    def fetch_jar(self) -> float:
        """Copy the connector jar from Maven (Central or ~/.m2); return the seconds taken."""
        if shutil.which("mvn") is None:
            raise FlinkSetupError(
                "Maven (mvn) is not on PATH; it fetches the Flink Kafka connector once "
                "(Debian: apt-get install maven)"
            )
        began = time.monotonic()
        partial = self.lib_dir.with_name(f"{self.lib_dir.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        _run(fetch_command(self.pom, partial))
        if not self.jar_present():
            shutil.rmtree(self.lib_dir, ignore_errors=True)
            partial.rename(self.lib_dir)
        shutil.rmtree(partial, ignore_errors=True)
        if not self.jar_present():
            raise FlinkSetupError(f"Maven finished but {self.connector_jar} is missing")
        return time.monotonic() - began

    def ensure(self, progress: Callable[[str], None] = logger.info) -> None:
        """Install what is missing (first use only), telling `progress` what it does."""
        if not self.venv_present():
            progress("the Flink venv is missing; installing it (first use only, about a minute)")
            seconds = self.install_venv(progress)
            progress(f"installed the Flink venv in {seconds:.0f} s")
        if not self.jar_present():
            progress(f"fetching flink-sql-connector-kafka {self.connector_version} with Maven")
            seconds = self.fetch_jar()
            progress(f"fetched {self.connector_jar.name} in {seconds:.1f} s")

    def _requirements_digest(self) -> str:
        return hashlib.sha256(self.requirements.read_bytes()).hexdigest()


def _run(command: list[str]) -> None:
    logger.info("running %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-20:]
        raise FlinkSetupError(
            f"`{' '.join(command[:3])} ...` failed (exit {result.returncode}):\n"
            + "\n".join(output)
        )
