"""A service's security from its settings: the tokens file read again on change, the Kafka
security settings mapped to librdkafka's keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fraudstream.common.auth import TokenTable, token_digest
from fraudstream.common.kafka import KafkaSecurity, kafka_config
from fraudstream.common.security import TokensFile


def _write(path: Path, *entries: tuple[str, str, str], bump: int) -> None:
    path.write_text("".join(f"{n} {r} {token_digest(t)}\n" for n, r, t in entries))
    os.utime(path, ns=(bump, bump))  # a new stamp even within the file system's resolution


def test_a_token_is_added_then_the_old_one_removed_without_a_restart(tmp_path, monkeypatch):
    monkeypatch.setattr(TokensFile, "_CHECK_SECONDS", 0.0)
    path = tmp_path / "tokens"
    _write(path, ("alice", "labeler", "old-secret"), bump=1_000_000_000)
    table = TokensFile(path, TokenTable.from_plain(["bob:clear-secret"], ["labeler"]))
    assert table.lookup("old-secret").name == "alice"  # type: ignore[union-attr]
    # Rotation: the new line first (both work), then the old one goes.
    _write(
        path, ("alice", "labeler", "old-secret"), ("alice", "labeler", "new"), bump=2_000_000_000
    )
    assert table.lookup("new") is not None and table.lookup("old-secret") is not None
    _write(path, ("alice", "labeler", "new"), bump=3_000_000_000)
    assert table.lookup("old-secret") is None and table.lookup("new") is not None
    assert table.lookup("clear-secret").name == "bob"  # type: ignore[union-attr]


def test_a_known_token_gets_the_roles_of_the_file_read_again(tmp_path, monkeypatch):
    """Owners of tokens are remembered between calls, but never across a new file."""
    monkeypatch.setattr(TokensFile, "_CHECK_SECONDS", 0.0)
    path = tmp_path / "tokens"
    _write(path, ("alice", "labeler", "secret"), bump=1_000_000_000)
    table = TokensFile(path, TokenTable())
    first = table.lookup("secret")
    assert first is not None and "labeler" in first.roles
    assert table.lookup("secret") is first  # remembered
    _write(path, ("alice", "viewer", "secret"), bump=2_000_000_000)
    again = table.lookup("secret")
    assert again is not None and "labeler" not in again.roles and "viewer" in again.roles
    assert table.lookup("unknown") is None and table.lookup("unknown") is None


def test_a_file_that_stops_parsing_keeps_the_last_good_table(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(TokensFile, "_CHECK_SECONDS", 0.0)
    path = tmp_path / "tokens"
    _write(path, ("alice", "labeler", "secret"), bump=1_000_000_000)
    table = TokensFile(path, TokenTable())
    path.write_text("alice labeler not-a-hash\n")
    os.utime(path, ns=(2_000_000_000, 2_000_000_000))
    assert table.lookup("secret") is not None
    assert "the last good one stays" in caplog.text


def test_a_missing_tokens_file_is_an_error_at_start(tmp_path):
    with pytest.raises(ValueError, match="cannot read the tokens file"):
        TokensFile(tmp_path / "absent", TokenTable())


def test_kafka_security_settings_map_to_librdkafka_keys(monkeypatch):
    assert kafka_config("k:9092", {"acks": "all"}, security=KafkaSecurity()) == {
        "bootstrap.servers": "k:9092",
        "acks": "all",
    }
    for name, value in {
        "PROTOCOL": "SASL_SSL",
        "SSL_CA": "/certs/kafka-ca.pem",
        "SSL_CERT": "/certs/client.pem",
        "SSL_KEY": "/certs/client.key",
        "SASL_MECHANISM": "SCRAM-SHA-512",
        "SASL_USERNAME": "ingest",
        "SASL_PASSWORD": "s3cret",
    }.items():
        monkeypatch.setenv(f"FRAUDSTREAM_KAFKA_SECURITY_{name}", value)
    config = kafka_config("k:9093", {"group.id": "g"})
    assert config == {
        "bootstrap.servers": "k:9093",
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": "/certs/kafka-ca.pem",
        "ssl.certificate.location": "/certs/client.pem",
        "ssl.key.location": "/certs/client.key",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "ingest",
        "sasl.password": "s3cret",
        "group.id": "g",
    }
    assert "s3cret" not in repr(KafkaSecurity())  # the password never shows in a log line
