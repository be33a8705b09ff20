"""The demo's offline steps (simulate, features, train), each timed and skipped when up to date."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rich.console import Console

logger = logging.getLogger(__name__)

STAMPS_FILE = "build.json"
# The packages whose code decides what the offline outputs contain.
_CODE_PACKAGES = ("fraudstream-training", "fraudstream-model")


class BuildError(RuntimeError):
    """An offline step failed; the message holds the command and its output."""


@dataclass
class StepTimer:
    """What one step did, for the console and the summary."""

    title: str
    seconds: float = 0.0
    note: str = ""


@dataclass
class Steps:
    """Prints `==> step` and `done in N s` around each step of a run and keeps the timings."""

    console: Console
    done: list[StepTimer] = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[StepTimer]:
        timer = StepTimer(title)
        self.console.print(f"[bold cyan]==>[/] {title}")
        began = time.monotonic()
        try:
            yield timer
        finally:
            timer.seconds = time.monotonic() - began
            self.done.append(timer)
            note = f" ({timer.note})" if timer.note else ""
            self.console.print(f"    done in {timer.seconds:.1f} s{note}")

    def as_dict(self) -> list[dict[str, Any]]:
        return [
            {"step": t.title, "seconds": round(t.seconds, 2), "note": t.note} for t in self.done
        ]


def _file_identity(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"path": str(path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _code_versions() -> dict[str, str]:
    versions = {}
    for package in _CODE_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    from fraudstream.model.features import FEATURE_SCHEMA_HASH

    versions["feature_schema_hash"] = FEATURE_SCHEMA_HASH
    return versions


class Builder:
    """Runs the real `fraudstream` offline commands, remembering what built each output.

    An output is reused when it exists and the recipe that made it (command,
    inputs' size and mtime, code versions) is the same as now.
    """

    def __init__(self, workdir: Path, steps: Steps) -> None:
        self.workdir = workdir
        self.steps = steps
        self._stamps_path = workdir / STAMPS_FILE
        try:
            self._stamps: dict[str, str] = json.loads(self._stamps_path.read_text())
        except (FileNotFoundError, ValueError):
            self._stamps = {}

    def simulate(self, rows: int, seed: int, out: Path, drift_step: int | None = None) -> Path:
        args = ["data", "simulate", "--rows", str(rows), "--seed", str(seed), "--out", str(out)]
        if drift_step is not None:
            args += ["--drift-step", str(drift_step)]
        title = f"simulate {rows:,} PaySim rows (seed {seed}) -> {out}"
        return self._run(title, [*args, "--quiet"], out, inputs=[])

    def features(self, csv: Path, out: Path, accounts: bool = False) -> Path:
        args = ["data", "features", "--input", str(csv), "--output", str(out), "--quiet"]
        args += ["--accounts"] if accounts else []
        return self._run(f"features of {csv.name} -> {out}", args, out, inputs=[csv])

    def train(
        self,
        parquet: Path,
        models: Path,
        signing: SigningKey | None = None,
        accounts: bool = False,
    ) -> Path:
        """Train the bundle (with account features when `accounts`); with `signing`, signed by
        its private key (a bundle its public key does not verify is trained again, not reused)."""
        args = ["train", "all", "--input", str(parquet), "--models", str(models), "--quiet"]
        args += ["--accounts"] if accounts else []
        if signing is not None:
            args += ["--signing-key", str(signing.private)]
        title = f"train the ensemble on {parquet.name} -> {models}"
        verify = signing.public if signing is not None else None
        check = functools.partial(_bundle_loads, verify_key=verify)
        return self._run(title, args, models, inputs=[parquet], check=check)

    def _run(
        self, title: str, args: list[str], out: Path, inputs: list[Path], check: Any = None
    ) -> Path:
        recipe = json.dumps(
            {
                "args": args,
                "inputs": [_file_identity(p) for p in inputs],
                "code": _code_versions(),
            },
            sort_keys=True,
        )
        digest = hashlib.sha256(recipe.encode()).hexdigest()
        key = str(out.resolve())
        with self.steps.step(title) as timer:
            if out.exists() and self._stamps.get(key) == digest and (check is None or check(out)):
                timer.note = "reused: built by an earlier run from the same inputs"
                return out
            command = [sys.executable, "-m", "fraudstream.cli.main", *args]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise BuildError(
                    f"`fraudstream {' '.join(args)}` failed (exit {result.returncode}):\n"
                    + (result.stdout + result.stderr).strip()[-4000:]
                )
            self._stamps[key] = digest
            self._stamps_path.parent.mkdir(parents=True, exist_ok=True)
            self._stamps_path.write_text(json.dumps(self._stamps, indent=2) + "\n")
            return out


@dataclass(frozen=True)
class SigningKey:
    """The demo's model signing key pair: training and the learner sign, scorers verify."""

    private: Path
    public: Path

    @classmethod
    def in_directory(cls, directory: Path) -> SigningKey:
        """The pair kept in `directory`, made there on first use (the bundle outlives runs)."""
        from fraudstream.model.signing import PRIVATE_NAME, PUBLIC_NAME, make_signing_key

        directory = directory.resolve()
        private, public = directory / PRIVATE_NAME, directory / PUBLIC_NAME
        if not (private.is_file() and public.is_file()):
            directory.mkdir(parents=True, exist_ok=True)
            private, public = make_signing_key(directory)
        return cls(private, public)


def _bundle_loads(models: Path, verify_key: Path | None = None) -> bool:
    """True when the bundle's artifacts match their checksums and, with `verify_key`, its
    signature verifies (a damaged or unsigned bundle is rebuilt)."""
    from fraudstream.model.ensemble import load_ensemble
    from fraudstream.model.signing import Verifier

    try:
        if verify_key is not None:
            Verifier.from_files([verify_key]).verify_bundle(models)
        load_ensemble(models)
    except Exception as exc:  # any damage means rebuild, and say why
        logger.warning("the bundle in %s does not load (%s); training again", models, exc)
        return False
    return True
