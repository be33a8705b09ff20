"""The Kafka broker's jars, resolved by Maven from deploy/kafka/pom.xml into a local cache."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

POM_RELATIVE_PATH = Path("deploy/kafka/pom.xml")
KAFKA_HOME_ENV = "FRAUDSTREAM_KAFKA_HOME"
MIN_JAVA_MAJOR = 17
_MAVEN_NS = "{http://maven.apache.org/POM/4.0.0}"


class KafkaSetupError(RuntimeError):
    """Java, Maven or the broker's jars are missing or unusable; the message says what to do."""


def find_pom(start: Path | None = None) -> Path | None:
    """The repository's deploy/kafka/pom.xml, searched upwards from `start` (cwd) and this file."""
    candidates = [(start or Path.cwd()).resolve(), Path(__file__).resolve().parent]
    for origin in candidates:
        for directory in (origin, *origin.parents):
            pom = directory / POM_RELATIVE_PATH
            if pom.is_file():
                return pom
    return None


def pom_kafka_version(pom: Path) -> str:
    """The `kafka.version` property of the pom, the one place the broker version is set."""
    root = ET.parse(pom).getroot()
    version = root.findtext(f"{_MAVEN_NS}properties/{_MAVEN_NS}kafka.version")
    if not version:
        raise KafkaSetupError(f"{pom} does not set the <kafka.version> property")
    return version.strip()


def fetch_command(pom: Path, lib_dir: Path) -> list[str]:
    """The Maven command that copies the broker's runtime classpath into `lib_dir`."""
    return [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={lib_dir}",
    ]


@dataclass(frozen=True)
class KafkaJars:
    """Where the broker's jars live for one Kafka version, and how to get them there."""

    version: str
    lib_dir: Path
    pom: Path | None

    @classmethod
    def locate(cls, start: Path | None = None) -> KafkaJars:
        """This pom's Kafka jars: in $FRAUDSTREAM_KAFKA_HOME/lib, else the repo's .cache/kafka."""
        pom = find_pom(start)
        home = os.environ.get(KAFKA_HOME_ENV)
        if home:
            home_dir = Path(home).expanduser().resolve()
            # An unpacked Apache Kafka distribution keeps its jars in libs/.
            lib_dir = home_dir / "lib"
            if not lib_dir.is_dir() and (home_dir / "libs").is_dir():
                lib_dir = home_dir / "libs"
            version = pom_kafka_version(pom) if pom else _version_from_jars(lib_dir)
            return cls(version=version, lib_dir=lib_dir, pom=pom)
        if pom is None:
            raise KafkaSetupError(
                f"cannot find {POM_RELATIVE_PATH} above {Path.cwd()}: run from the fraudstream "
                f"repository, or set {KAFKA_HOME_ENV} to a directory whose lib/ holds the jars"
            )
        version = pom_kafka_version(pom)
        repo_root = pom.parents[len(POM_RELATIVE_PATH.parts) - 1]
        return cls(
            version=version, lib_dir=repo_root / ".cache" / "kafka" / version / "lib", pom=pom
        )

    @property
    def broker_jar(self) -> Path:
        """The jar holding `kafka.Kafka` and `kafka.tools.StorageTool`."""
        return self.lib_dir / f"kafka_2.13-{self.version}.jar"

    @property
    def classpath(self) -> str:
        """A Java wildcard classpath of every jar in the lib directory."""
        return str(self.lib_dir / "*")

    def present(self) -> bool:
        """True when the lib directory holds this version's broker jar."""
        return self.broker_jar.is_file()

    def fetch(self) -> float:
        """Copy the runtime classpath from Maven (Central or ~/.m2) and return the seconds taken.

        Maven writes into a sibling directory that is renamed at the end, so an
        interrupted fetch never leaves a lib directory that looks complete.
        """
        if self.pom is None:
            raise KafkaSetupError(
                f"no jars in {self.lib_dir} and no {POM_RELATIVE_PATH} to fetch them with"
            )
        if shutil.which("mvn") is None:
            raise KafkaSetupError(
                "Maven (mvn) is not on PATH; it fetches the Kafka jars once "
                "(Debian: apt-get install maven)"
            )
        began = time.monotonic()
        partial = self.lib_dir.with_name(f"{self.lib_dir.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        command = fetch_command(self.pom, partial)
        logger.info("fetching Kafka %s jars: %s", self.version, " ".join(command))
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            output = (result.stdout + result.stderr).strip().splitlines()[-20:]
            raise KafkaSetupError(
                f"Maven could not fetch the Kafka {self.version} jars (exit {result.returncode}):\n"
                + "\n".join(output)
            )
        if self.present():
            # Another process (CI, a parallel test session) finished first.
            shutil.rmtree(partial, ignore_errors=True)
        else:
            shutil.rmtree(self.lib_dir, ignore_errors=True)
            partial.rename(self.lib_dir)
        if not self.present():
            raise KafkaSetupError(f"Maven finished but {self.broker_jar} is missing")
        return time.monotonic() - began


def _version_from_jars(lib_dir: Path) -> str:
    for jar in sorted(lib_dir.glob("kafka_2.13-*.jar")):
        match = re.fullmatch(r"kafka_2\.13-(\d[\w.\-]*)\.jar", jar.name)
        if match:
            return match.group(1)
    raise KafkaSetupError(f"no kafka_2.13-<version>.jar in {lib_dir}")


def find_java() -> str:
    """The `java` executable on PATH, checked to be Java 17 or newer."""
    java = shutil.which("java")
    if java is None:
        raise KafkaSetupError(
            f"Java is not on PATH; the Kafka broker needs a JDK {MIN_JAVA_MAJOR} "
            f"(Debian: apt-get install openjdk-{MIN_JAVA_MAJOR}-jdk-headless)"
        )
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0" style
            major = int(match.group(2))
        if major < MIN_JAVA_MAJOR:
            raise KafkaSetupError(
                f"{java} is Java {major}; the Kafka broker needs a JDK {MIN_JAVA_MAJOR} or newer "
                f"(Debian: apt-get install openjdk-{MIN_JAVA_MAJOR}-jdk-headless)"
            )
    return java
