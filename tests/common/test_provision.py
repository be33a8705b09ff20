"""Container credentials: each service's own files, and the Kafka broker's PEM keystore."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fraudstream.common import provision


def test_broker_gets_a_keystore_of_its_key_and_certificate(tmp_path: Path) -> None:
    out = tmp_path / "out"
    me = f"{os.getuid()}:{os.getgid()}"
    services = ["--service", "kafka", "--service", "ingest"]
    code = provision.main(
        ["--pki", str(tmp_path / "pki"), "--out", str(out), *services, "--owner-for", f"kafka={me}"]
    )
    assert code == 0
    keystore = out / "kafka" / "keystore.pem"
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    data = keystore.read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    cert = x509.load_pem_x509_certificate(data)
    assert cert.public_key() == key.public_key()
    assert cert.public_bytes(serialization.Encoding.PEM) == (out / "kafka" / "tls.pem").read_bytes()
    assert cert.subject.rfc4514_string() == "CN=kafka"
    # A service gets its certificate, key and the CA only.
    assert {p.name for p in (out / "ingest").iterdir()} == {"tls.pem", "tls.key", "ca.pem"}


def test_owner_for_needs_a_service_and_ids(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        no_service = ["--owner-for", "1000:1000"]
        provision.main(
            ["--pki", str(tmp_path), "--out", str(tmp_path), "--service", "kafka", *no_service]
        )
    assert exited.value.code == 2


def test_the_signing_key_goes_to_scorer_and_learner_and_its_private_half_to_the_learner_only(
    tmp_path: Path,
) -> None:
    from fraudstream.model.signing import make_signing_key

    signing = tmp_path / "signing"
    signing.mkdir()
    make_signing_key(signing)
    out = tmp_path / "out"
    services = [a for s in ("scorer", "learner", "ingest") for a in ("--service", s)]
    args = ["--pki", str(tmp_path / "pki"), "--out", str(out), *services]
    assert provision.main([*args, "--signing", str(signing)]) == 0
    assert (out / "scorer" / "model-signing.pub").read_bytes() == (
        signing / "model-signing.pub"
    ).read_bytes()
    assert not (out / "scorer" / "model-signing.key").exists()
    private = out / "learner" / "model-signing.key"
    assert private.read_bytes() == (signing / "model-signing.key").read_bytes()
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert {p.name for p in (out / "ingest").iterdir()} == {"tls.pem", "tls.key", "ca.pem"}


def test_a_missing_signing_key_stops_provisioning_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--pki", str(tmp_path / "pki"), "--out", str(tmp_path / "out"), "--service", "scorer"]
    assert provision.main([*args, "--signing", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no model signing key" in err and "fraudstream certs --out" in err
