"""The local broker's listeners as written to server.properties, and how its tools reach it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from fraudstream.cli.kafka.config import BrokerConfig, read_properties, server_properties
from fraudstream.cli.kafka.listeners import (
    BrokerTls,
    TlsFilesError,
    client_bootstrap,
    tooling_access,
    write_keystore,
)
from fraudstream.cli.main import cli
from fraudstream.common import certs


@pytest.fixture(scope="module")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    certs.make_certificates(directory, [certs.BROKER])
    return directory


def _properties(tmp_path: Path, config: BrokerConfig) -> dict[str, str]:
    path = tmp_path / "server.properties"
    path.write_text(server_properties(config, tmp_path / "data", tmp_path / "keystore.pem"))
    return read_properties(path)


def test_default_broker_is_plaintext_on_loopback_only(tmp_path: Path) -> None:
    props = _properties(tmp_path, BrokerConfig(port=19092, controller_port=19093))
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert not any(key.startswith("ssl.") for key in props)
    access = tooling_access(props)
    assert access is not None
    assert (access.bootstrap, access.security.librdkafka()) == (
        "127.0.0.1:19092",
        {"security.protocol": "PLAINTEXT"},
    )


def test_tls_broker_requires_client_certificates_everywhere(
    tmp_path: Path, certs_dir: Path
) -> None:
    tls = BrokerTls.from_directory(certs_dir)
    props = _properties(tmp_path, BrokerConfig(port=19092, controller_port=19093, tls=tls))
    assert props["listeners"] == "SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert "PLAINTEXT://" not in props["advertised.listeners"]
    assert props["inter.broker.listener.name"] == "SSL"
    assert "CONTROLLER:SSL" in props["listener.security.protocol.map"].split(",")
    assert props["ssl.client.auth"] == "required"
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
    assert props["ssl.truststore.location"] == str(certs_dir.resolve() / "ca.pem")
    assert client_bootstrap(props) == "127.0.0.1:19092"
    # No plaintext listener: the broker's own commands use TLS with its own certificate.
    access = tooling_access(props)
    assert access is not None
    assert access.bootstrap == "127.0.0.1:19092"
    assert access.security.librdkafka() == {
        "security.protocol": "SSL",
        "ssl.ca.location": str(certs_dir.resolve() / "ca.pem"),
        "ssl.certificate.location": str(tmp_path / "keystore.pem"),
        "ssl.key.location": str(tmp_path / "keystore.pem"),
    }


def test_plaintext_port_of_a_tls_broker_is_on_loopback_for_tools(
    tmp_path: Path, certs_dir: Path
) -> None:
    tls = BrokerTls.from_directory(certs_dir, host="kafka.internal")
    config = BrokerConfig(port=19092, controller_port=19093, tls=tls, plaintext_port=19094)
    props = _properties(tmp_path, config)
    assert props["advertised.listeners"] == "SSL://kafka.internal:19092,PLAINTEXT://127.0.0.1:19094"
    assert config.bootstrap == client_bootstrap(props) == "kafka.internal:19092"
    access = tooling_access(props)
    assert access is not None
    assert access.bootstrap == "127.0.0.1:19094"
    assert access.security.librdkafka() == {"security.protocol": "PLAINTEXT"}


def test_keystore_holds_key_then_certificate_for_its_owner_only(
    tmp_path: Path, certs_dir: Path
) -> None:
    tls = BrokerTls.from_directory(certs_dir)
    keystore = tmp_path / "tls" / "keystore.pem"
    write_keystore(tls, keystore)
    text = keystore.read_text()
    assert text.index("BEGIN PRIVATE KEY") < text.index("BEGIN CERTIFICATE")
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600


def test_missing_broker_certificate_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(TlsFilesError, match="fraudstream certs --out"):
        BrokerTls.from_directory(tmp_path)


def test_certs_issues_the_broker_certificate(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["certs", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    BrokerTls.from_directory(tmp_path)


def test_start_refuses_tls_options_that_do_not_fit(tmp_path: Path) -> None:
    runner = CliRunner()
    lone = runner.invoke(cli, ["kafka", "start", "--plaintext-port", "19094"])
    assert lone.exit_code == 2
    assert "--tls-dir" in lone.output
    empty = runner.invoke(cli, ["kafka", "start", "--tls-dir", str(tmp_path)])
    assert empty.exit_code == 2
    assert "kafka.pem" in empty.output
