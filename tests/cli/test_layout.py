"""The CLI package's shape: modules import, no import cycle, only public names cross modules."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import click
import pytest

import fraudstream.cli
from fraudstream.cli.main import cli

ROOT = Path(fraudstream.cli.__file__).resolve().parent
# Scripts that run in the benchmark's separate MLServer virtualenv, not modules of this package.
SCRIPTS = {"fraudstream.cli.bench.mlserver_client", "fraudstream.cli.bench.mlserver_runtime"}
# What the CLI may import of the training package: its public API only.
TRAINING_API = "fraudstream.training.api"
# Built-in commands, each the click command of the module (or subpackage) of the same name.
COMMANDS = ("bench", "demo", "experiment", "kafka", "readiness", "replay", "review", "serve")
MAX_LINES = 300


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names imported from it, line) of every import, inside functions too."""
    found: list[tuple[str, list[str], int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def _edges(name: str) -> set[str]:
    """The CLI modules `name` imports (`from pkg import mod` counts as importing pkg.mod)."""
    targets = set()
    for module, names, _ in _imports(MODULES[name]):
        submodules = {f"{module}.{n}" for n in names} & MODULES.keys()
        targets |= submodules or ({module} & MODULES.keys())
    return targets - {name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


@pytest.mark.parametrize("name", sorted(MODULES.keys() - SCRIPTS))
def test_every_module_imports(name: str):
    importlib.import_module(name)


def test_no_import_cycle_between_cli_modules():
    graph = {name: _edges(name) for name in MODULES}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_private_name_crosses_modules():
    crossing = [
        f"{MODULES[name].relative_to(ROOT)}:{line} imports {n} from {module}"
        for name in MODULES
        for module, names, line in _imports(MODULES[name])
        if module.startswith("fraudstream.")
        for n in names
        if n.startswith("_")
    ]
    assert crossing == []


def test_training_is_reached_through_its_public_api_only():
    internal = [
        f"{MODULES[name].relative_to(ROOT)}:{line} imports {module}"
        for name in MODULES
        for module, _, line in _imports(MODULES[name])
        if module.startswith("fraudstream.training") and module != TRAINING_API
    ]
    assert internal == []


def test_no_module_is_longer_than_the_house_limit():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in MODULES.values()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize("command", COMMANDS)
def test_each_builtin_command_comes_from_its_own_module(command: str):
    loaded = cli.get_command(click.Context(cli), command)
    assert isinstance(loaded, click.Command)
    assert loaded.name == command
    assert loaded.callback is not None
    assert loaded.callback.__module__ == f"fraudstream.cli.{command}"
