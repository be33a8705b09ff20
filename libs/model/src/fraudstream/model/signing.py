"""Model signatures (Ed25519): training and the learner sign, scorers only verify.

Ed25519 rather than an HMAC with a shared key: a scorer holds only the public key, so a
scorer (or anything that reads its files) can check a model but never make one; keys are
small, signatures fast (tens of microseconds) and deterministic. Several public keys may be
trusted at once, so a signing key can be rotated without a flag day: trust the new public
key everywhere, switch the signer, then drop the old key.

What is signed:
- a bundle: the exact bytes of `manifest.json`, which hold the sha256 of every artifact; the
  signature sits beside it in `manifest.sig` (JSON: key id and base64 signature);
- a snapshot: its checksum (sha256 of the snapshot with checksum and signature empty), with
  the signature and key id in the snapshot's own fields.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fraudstream.common import names
from fraudstream.common.files import atomic_write

logger = logging.getLogger(__name__)

PRIVATE_NAME = names.MODEL_SIGNING_KEY_FILE
PUBLIC_NAME = names.MODEL_VERIFY_KEY_FILE
BUNDLE_SIGNATURE_NAME = "manifest.sig"


class SignatureError(ValueError):
    """A signature is missing, made by an untrusted key, or does not match the content."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: the first 16 hex digits of sha256 of its bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def make_signing_key(directory: Path) -> tuple[Path, Path]:
    """Write a new key pair (private key readable by its owner only); returns both paths."""
    private = Ed25519PrivateKey.generate()
    private_path, public_path = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    atomic_write(
        private_path,
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        mode=0o600,
    )
    atomic_write(
        public_path,
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return private_path, public_path


@dataclass(frozen=True)
class Signer:
    """Holds the private key; used by `fraudstream train` and the learner."""

    private_key: Ed25519PrivateKey

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise SignatureError(f"cannot load the model signing key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SignatureError(f"{path} is not an Ed25519 private key")
        return cls(key)

    @property
    def key_id(self) -> str:
        return key_id(self.private_key.public_key())

    def sign(self, content: bytes) -> bytes:
        return self.private_key.sign(content)

    def sign_bundle(self, directory: Path) -> Path:
        """Write `manifest.sig` for the bundle's current `manifest.json`."""
        manifest = (directory / "manifest.json").read_bytes()
        record = {
            "key_id": self.key_id,
            "algorithm": "ed25519",
            "signature": base64.b64encode(self.sign(manifest)).decode(),
        }
        path = directory / BUNDLE_SIGNATURE_NAME
        atomic_write(path, (json.dumps(record, indent=2) + "\n").encode())
        return path


class Verifier:
    """Holds trusted public keys by key id; used by scorers (and the learner on its bundle)."""

    def __init__(self, keys: Iterable[Ed25519PublicKey]) -> None:
        self._keys = {key_id(k): k for k in keys}
        if not self._keys:
            raise SignatureError("no trusted model signing key given")

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> Verifier:
        keys: list[Ed25519PublicKey] = []
        for path in paths:
            try:
                key = serialization.load_pem_public_key(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise SignatureError(f"cannot load the model verify key {path}: {exc}") from exc
            if not isinstance(key, Ed25519PublicKey):
                raise SignatureError(f"{path} is not an Ed25519 public key")
            keys.append(key)
        return cls(keys)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def verify(self, content: bytes, signature: bytes, signed_by: str, what: str) -> None:
        """Raise SignatureError unless a trusted key `signed_by` signed `content`."""
        if not signature:
            raise SignatureError(f"{what} is not signed")
        key = self._keys.get(signed_by)
        if key is None:
            raise SignatureError(f"{what} is signed by key {signed_by!r}, which is not trusted")
        try:
            key.verify(signature, content)
        except InvalidSignature:
            raise SignatureError(f"{what}: the signature does not match its content") from None

    def verify_bundle(self, directory: Path, manifest: bytes | None = None) -> None:
        """Raise SignatureError unless `manifest.sig` signs the bundle's `manifest.json`
        (`manifest`: its bytes as already read, so the bytes checked are the bytes used)."""
        path = directory / BUNDLE_SIGNATURE_NAME
        what = f"bundle {directory}"
        try:
            record = json.loads(path.read_text())
            signature = base64.b64decode(record["signature"], validate=True)
            signed_by = str(record["key_id"])
        except FileNotFoundError:
            raise SignatureError(f"{what} is not signed (no {BUNDLE_SIGNATURE_NAME})") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SignatureError(f"{what}: unreadable {BUNDLE_SIGNATURE_NAME} ({exc})") from None
        if manifest is None:
            manifest = (directory / "manifest.json").read_bytes()
        self.verify(manifest, signature, signed_by, what)
