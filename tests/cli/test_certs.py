"""`fraudstream certs` and `fraudstream tokens` as a user runs them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from fraudstream.cli.main import cli
from fraudstream.common.auth import TokenTable


def test_certs_writes_a_ca_every_service_and_a_signing_key(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    result = CliRunner().invoke(cli, ["certs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    for name in ("ca", "scorer", "feedback", "learner", "ingest", "console", "client"):
        assert {f"{name}.pem", f"{name}.key"} <= names
    assert {"model-signing.key", "model-signing.pub"} <= names
    before = (out / "scorer.pem").read_bytes()
    assert CliRunner().invoke(cli, ["certs", "--out", str(out)]).exit_code == 0
    assert (out / "scorer.pem").read_bytes() == before
    assert CliRunner().invoke(cli, ["certs", "--out", str(out), "--renew"]).exit_code == 0
    assert (out / "scorer.pem").read_bytes() != before


def test_tokens_prints_the_token_once_and_stores_its_hash(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    runner = CliRunner()
    result = runner.invoke(cli, ["tokens", "alice", "--role", "labeler", "--file", str(tokens)])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token not in tokens.read_text()
    principal = TokenTable.from_file(tokens).lookup(token)
    assert principal is not None
    assert principal.name == "alice"
    assert principal.roles == {"labeler", "viewer"}
    refused = runner.invoke(cli, ["tokens", "bob; rm", "--role", "viewer", "--file", str(tokens)])
    assert refused.exit_code != 0
