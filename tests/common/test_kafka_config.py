"""Kafka security is a setting: one librdkafka configuration for every client of the project."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fraudstream.common.kafka import KafkaSecurity, kafka_config

REPO = Path(__file__).resolve().parents[2]
# Where the project's Kafka clients live (tests build their own against the test broker).
SOURCES = [
    *sorted((REPO / "cli" / "src").rglob("*.py")),
    *sorted((REPO / "services").glob("*/src/**/*.py")),
    *sorted((REPO / "libs").glob("*/src/**/*.py")),
    REPO / "flink" / "bench.py",
]
CLIENTS = {"Consumer", "Producer", "AdminClient"}
KAFKA_MODULE = REPO / "libs" / "common" / "src" / "fraudstream" / "common" / "kafka.py"


def test_security_variables_map_to_librdkafka_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "PROTOCOL": "SASL_SSL",
        "SSL_CA": "/certs/ca.pem",
        "SSL_CERT": "/certs/tls.pem",
        "SSL_KEY": "/certs/tls.key",
        "SASL_MECHANISM": "SCRAM-SHA-512",
        "SASL_USERNAME": "ingest",
        "SASL_PASSWORD": "secret",
    }.items():
        monkeypatch.setenv(f"FRAUDSTREAM_KAFKA_SECURITY_{name}", value)
    config = kafka_config("kafka:19092", {"acks": "all"})
    assert config == {
        "bootstrap.servers": "kafka:19092",
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": "/certs/ca.pem",
        "ssl.certificate.location": "/certs/tls.pem",
        "ssl.key.location": "/certs/tls.key",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "ingest",
        "sasl.password": "secret",
        "acks": "all",
    }
    assert "secret" not in repr(KafkaSecurity())


def test_explicit_security_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("FRAUDSTREAM_KAFKA_SECURITY_SSL_CA", "/env/ca.pem")
    plain = kafka_config("127.0.0.1:9095", security=KafkaSecurity.plaintext())
    assert plain == {"bootstrap.servers": "127.0.0.1:9095", "security.protocol": "PLAINTEXT"}
    tls = KafkaSecurity.mutual_tls("/a/ca.pem", "/a/kafka.pem", "/a/kafka.key")
    assert kafka_config("x:1", security=tls)["ssl.ca.location"] == "/a/ca.pem"


def _client_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in CLIENTS
    ]


def _calls_a_config_function(node: ast.AST) -> bool:
    """The expression calls `kafka_config` or a module helper built on it (`producer_config`)."""
    return any(
        isinstance(inner, ast.Call)
        and isinstance(inner.func, ast.Name)
        and inner.func.id.endswith("config")
        for inner in ast.walk(node)
    )


def test_every_kafka_client_is_configured_by_kafka_config() -> None:
    """A client built from its own dict would ignore FRAUDSTREAM_KAFKA_SECURITY_* (plaintext to
    a TLS broker): every constructor's configuration goes through kafka_config()."""
    offenders = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        calls = _client_calls(tree)
        if calls and "kafka_config" not in text:
            offenders.append(f"{path.relative_to(REPO)}: no kafka_config")
        for call in calls:
            if not call.args or not _calls_a_config_function(call.args[0]):
                offenders.append(f"{path.relative_to(REPO)}:{call.lineno}")
        if path != KAFKA_MODULE and '"bootstrap.servers"' in text:
            offenders.append(f"{path.relative_to(REPO)}: its own bootstrap.servers")
    assert offenders == []


def test_the_check_finds_a_client_with_its_own_config() -> None:
    tree = ast.parse('Producer({"bootstrap.servers": "localhost:9092"})')
    call = _client_calls(tree)[0]
    assert not _calls_a_config_function(call.args[0])
