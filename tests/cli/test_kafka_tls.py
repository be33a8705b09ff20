"""A broker with only a mutual-TLS listener: clients of its CA get through, no one else does.

One second broker for this module (`fraudstream kafka start --tls-dir` builds the same), started
from the certificates `fraudstream certs` writes. The clients are configured the way every
fraudstream process is: `kafka_config()` with FRAUDSTREAM_KAFKA_SECURITY_* in the environment.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer

from fraudstream.cli.kafka.admin import ensure_topics
from fraudstream.cli.kafka.broker import LocalKafka
from fraudstream.cli.kafka.config import BrokerConfig
from fraudstream.cli.kafka.listeners import BrokerTls
from fraudstream.common import certs
from fraudstream.common.kafka import KafkaSecurity, kafka_config

pytestmark = pytest.mark.integration

SECURITY_ENV = "FRAUDSTREAM_KAFKA_SECURITY_"
PAYSIM = Path(__file__).resolve().parents[1] / "testdata" / "paysim_sample.csv"
# A refused client gives up after this long: its message is reported undelivered.
REFUSED_TIMEOUT_MS = 2000
# Refused connections are retried every few ms: through logging, not one stderr line each.
_LIBRDKAFKA_LOG = logging.getLogger("tests.librdkafka")


@dataclass(frozen=True)
class TlsBroker:
    """The running broker, its certificates, and certificates of an unrelated CA."""

    broker: LocalKafka
    certs_dir: Path
    other_ca_dir: Path

    @property
    def bootstrap(self) -> str:
        return self.broker.config.bootstrap

    def env(self, directory: Path, name: str) -> dict[str, str]:
        """The variables of a process `name` presenting its certificate from `directory`."""
        files = certs.paths(directory, name)
        return {
            f"{SECURITY_ENV}PROTOCOL": "SSL",
            f"{SECURITY_ENV}SSL_CA": str(self.certs_dir / "ca.pem"),
            f"{SECURITY_ENV}SSL_CERT": str(files.cert),
            f"{SECURITY_ENV}SSL_KEY": str(files.key),
        }


@pytest.fixture(scope="module")
def tls_broker(
    tmp_path_factory: pytest.TempPathFactory, free_ports: Callable[[int], list[int]]
) -> Iterator[TlsBroker]:
    work = tmp_path_factory.mktemp("kafka-tls")
    certs.make_certificates(work / "certs", [certs.BROKER, "ingest", certs.CLIENT])
    # Same names, another CA: a certificate the broker has no reason to trust.
    certs.make_certificates(work / "other-ca", ["ingest"])
    port, controller_port = free_ports(2)
    config = BrokerConfig(
        data_dir=work / "kafka",
        port=port,
        controller_port=controller_port,
        tls=BrokerTls.from_directory(work / "certs"),
    )
    broker = LocalKafka(config)
    try:
        broker.start(timeout=60)
        yield TlsBroker(broker, work / "certs", work / "other-ca")
    finally:
        broker.stop()


@pytest.fixture
def topic(tls_broker: TlsBroker) -> str:
    name = f"test.tls.{uuid.uuid4().hex[:8]}"
    access = tls_broker.broker.tooling()
    ensure_topics(access.bootstrap, {name: 1}, security=access.security)
    return name


def _produce(config: dict[str, object], topic: str, value: bytes) -> tuple[Message, list[str]]:
    """Produce one message; its delivery report and the client's errors."""
    errors: list[str] = []
    reports: list[Message] = []
    producer = Producer(
        {**config, "error_cb": lambda err: errors.append(err.str()), "logger": _LIBRDKAFKA_LOG}
    )
    producer.produce(topic, value=value, on_delivery=lambda _err, msg: reports.append(msg))
    producer.flush(REFUSED_TIMEOUT_MS / 1000 + 10)
    assert reports, "no delivery report"
    return reports[0], errors


def _refused(tls_broker: TlsBroker, security: KafkaSecurity, topic: str) -> list[str]:
    """Errors of a client that tried to produce with `security`; asserts nothing was written."""
    config = kafka_config(
        tls_broker.bootstrap, {"message.timeout.ms": REFUSED_TIMEOUT_MS}, security=security
    )
    report, errors = _produce(config, topic, b"from a stranger")
    assert report.error() is not None
    assert report.error().code() == KafkaError._MSG_TIMED_OUT
    return errors


def test_client_of_the_ca_produces_and_consumes(
    tls_broker: TlsBroker, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in tls_broker.env(tls_broker.certs_dir, "ingest").items():
        monkeypatch.setenv(name, value)
    value = f"secured {uuid.uuid4()}".encode()
    report, errors = _produce(kafka_config(tls_broker.bootstrap, {"acks": "all"}), topic, value)
    assert report.error() is None, report.error()
    assert errors == []

    assert _consume(tls_broker.bootstrap, topic, 1) == [value]


def test_replay_and_kafka_status_reach_the_tls_broker_by_settings_only(
    tls_broker: TlsBroker, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, **tls_broker.env(tls_broker.certs_dir, certs.CLIENT)}
    cli = [sys.executable, "-m", "fraudstream.cli.main"]
    rows = ["--input", str(PAYSIM), "--limit", "20"]
    replay = subprocess.run(
        [*cli, "replay", *rows, "--topic", topic, "--bootstrap", tls_broker.bootstrap],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stderr
    for name, value in tls_broker.env(tls_broker.certs_dir, "ingest").items():
        monkeypatch.setenv(name, value)
    assert len(_consume(tls_broker.bootstrap, topic, 20)) == 20

    # `status` knows nothing of TLS: it reads how to reach the broker from its data directory.
    data_dir = str(tls_broker.broker.data_dir)
    status = subprocess.run(
        [*cli, "kafka", "status", "--data-dir", data_dir, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert report["bootstrap"] == tls_broker.bootstrap
    assert report["topics"][topic] == 1


def _consume(bootstrap: str, topic: str, count: int) -> list[bytes | None]:
    """`count` values of `topic` from its start (a client configured by the environment)."""
    group = f"tls-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        kafka_config(bootstrap, {"group.id": group, "auto.offset.reset": "earliest"})
    )
    values: list[bytes | None] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        while len(values) < count and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=count, timeout=0.5):
                assert message.error() is None, message.error()
                values.append(message.value())
    finally:
        consumer.close()
    return values


def test_client_without_a_certificate_is_refused(tls_broker: TlsBroker, topic: str) -> None:
    no_cert = KafkaSecurity.model_construct(
        protocol="SSL", ssl_ca=str(tls_broker.certs_dir / "ca.pem")
    )
    errors = _refused(tls_broker, no_cert, topic)
    # TLS 1.3: the broker checks the client's certificate after the handshake and says why.
    assert any("alert bad certificate" in error for error in errors), errors
    log = tls_broker.broker.log_file.read_text()
    assert "Failed authentication" in log and "SSL handshake failed" in log


def test_client_with_a_certificate_of_another_ca_is_refused(
    tls_broker: TlsBroker, topic: str
) -> None:
    other = certs.paths(tls_broker.other_ca_dir, "ingest")
    stranger = KafkaSecurity.mutual_tls(
        str(tls_broker.certs_dir / "ca.pem"), str(other.cert), str(other.key)
    )
    errors = _refused(tls_broker, stranger, topic)
    assert any("alert certificate unknown" in error for error in errors), errors


def test_plaintext_client_is_refused(tls_broker: TlsBroker, topic: str) -> None:
    errors = _refused(tls_broker, KafkaSecurity.plaintext(), topic)
    assert errors, "a plaintext client saw no error"
