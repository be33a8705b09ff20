"""Model snapshots on the wire: built from and read into a LinearModel, sealed, and checked."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence

import numpy as np

from fraudstream.model.linear import LinearModel
from fraudstream.model.scores import Thresholds
from fraudstream.model.signing import SignatureError, Signer, Verifier
from fraudstream.v1 import model_pb2
from fraudstream.v1.model_pb2 import ModelSnapshot, SnapshotMetrics

logger = logging.getLogger(__name__)


class SnapshotRejected(ValueError):
    """A snapshot that must not be served; the message is the reason sent back to the learner."""


# The largest |weight| a served linear model may have on a standardised input. Far beyond any
# trained model (SGD on standardised features stays in the tens), and small enough that the
# logit of finite, validated features cannot overflow to inf or NaN.
MAX_WEIGHT = 1e6


def snapshot_checksum(snapshot: ModelSnapshot) -> str:
    """sha256 (hex) of the snapshot serialized deterministically with checksum and signature
    empty (the signing key id is covered)."""
    unsealed = ModelSnapshot()
    unsealed.CopyFrom(snapshot)
    unsealed.checksum = ""
    unsealed.signature = b""
    return hashlib.sha256(unsealed.SerializeToString(deterministic=True)).hexdigest()


def seal(snapshot: ModelSnapshot, signer: Signer | None = None) -> ModelSnapshot:
    """Set the snapshot's checksum and, with a signer, its signature (in place); return it."""
    snapshot.signing_key_id = signer.key_id if signer is not None else ""
    snapshot.checksum = snapshot_checksum(snapshot)
    snapshot.signature = signer.sign(snapshot.checksum.encode()) if signer is not None else b""
    return snapshot


def snapshot_of(
    classifier: LinearModel,
    thresholds: Thresholds,
    *,
    version: int,
    bundle_version: str,
    feature_schema_hash: str,
    label_position: int = 0,
    metrics: SnapshotMetrics | None = None,
    created_time: float | None = None,
    signer: Signer | None = None,
) -> ModelSnapshot:
    """A sealed (and, with a signer, signed) snapshot serving `classifier` with `thresholds`
    (`created_time` in Unix seconds)."""
    snapshot = ModelSnapshot(
        version=version,
        bundle_version=bundle_version,
        feature_schema_hash=feature_schema_hash,
        scaler=model_pb2.StandardScaler(
            mean=classifier.mean.tolist(), scale=classifier.scale.tolist()
        ),
        classifier=model_pb2.LinearModel(
            input_names=list(classifier.input_names),
            coefficients=classifier.coefficients.tolist(),
            intercept=classifier.intercept,
        ),
        thresholds=model_pb2.Thresholds(review=thresholds.review, block=thresholds.block),
        label_position=label_position,
        metrics=metrics,
    )
    if created_time is not None:
        snapshot.created_time.FromNanoseconds(int(created_time * 1e9))
    return seal(snapshot, signer)


def linear_from_snapshot(snapshot: ModelSnapshot) -> LinearModel:
    """The snapshot's classifier as plain numbers (ValueError if its numbers cannot serve)."""
    return LinearModel(
        input_names=tuple(snapshot.classifier.input_names),
        mean=np.asarray(snapshot.scaler.mean),
        scale=np.asarray(snapshot.scaler.scale),
        coefficients=np.asarray(snapshot.classifier.coefficients),
        intercept=snapshot.classifier.intercept,
    )


def thresholds_from_snapshot(snapshot: ModelSnapshot) -> Thresholds:
    """The REVIEW and BLOCK thresholds the snapshot is served with."""
    return Thresholds(snapshot.thresholds.review, snapshot.thresholds.block)


def check_snapshot(
    snapshot: ModelSnapshot,
    *,
    feature_schema_hash: str,
    input_names: Sequence[str],
    verifier: Verifier | None = None,
) -> None:
    """Raise SnapshotRejected unless `snapshot` is safe to serve with this feature schema.

    With a `verifier`, the snapshot must also be signed by one of its trusted keys.
    """
    if snapshot.checksum != snapshot_checksum(snapshot):
        raise SnapshotRejected(f"snapshot v{snapshot.version}: checksum does not match its content")
    if verifier is not None:
        try:
            verifier.verify(
                snapshot.checksum.encode(),
                snapshot.signature,
                snapshot.signing_key_id,
                f"snapshot v{snapshot.version}",
            )
        except SignatureError as exc:
            raise SnapshotRejected(str(exc)) from None
    if snapshot.feature_schema_hash != feature_schema_hash:
        raise SnapshotRejected(
            f"snapshot v{snapshot.version}: feature schema {snapshot.feature_schema_hash[:12]} "
            f"differs from the scorer's {feature_schema_hash[:12]}"
        )
    if snapshot.version <= 0:
        raise SnapshotRejected(f"snapshot version must be positive, got {snapshot.version}")
    model, scaler = snapshot.classifier, snapshot.scaler
    if list(model.input_names) != list(input_names):
        raise SnapshotRejected(
            f"snapshot v{snapshot.version}: classifier inputs {len(model.input_names)} "
            f"do not match the scorer's {len(input_names)} inputs"
        )
    n = len(input_names)
    sizes = {
        "coefficients": len(model.coefficients),
        "scaler.mean": len(scaler.mean),
        "scaler.scale": len(scaler.scale),
    }
    wrong = {name: size for name, size in sizes.items() if size != n}
    if wrong:
        raise SnapshotRejected(
            f"snapshot v{snapshot.version}: wrong dimensions (expected {n}): "
            + ", ".join(f"{name} has {size}" for name, size in wrong.items())
        )
    numbers = [
        *model.coefficients,
        model.intercept,
        *scaler.mean,
        *scaler.scale,
        snapshot.thresholds.review,
        snapshot.thresholds.block,
    ]
    if not all(math.isfinite(value) for value in numbers):
        raise SnapshotRejected(f"snapshot v{snapshot.version}: holds a non-finite number")
    if min(scaler.scale) <= 0:
        raise SnapshotRejected(f"snapshot v{snapshot.version}: scaler scale must be positive")
    weights = [*model.coefficients, model.intercept]
    if max(abs(w) for w in weights) > MAX_WEIGHT:
        raise SnapshotRejected(
            f"snapshot v{snapshot.version}: a weight beyond ±{MAX_WEIGHT:g} would overflow the "
            "risk of ordinary transactions"
        )
    review, block = snapshot.thresholds.review, snapshot.thresholds.block
    if not 0.0 < review <= block <= 1.0:
        raise SnapshotRejected(
            f"snapshot v{snapshot.version}: thresholds must satisfy 0 < review <= block <= 1, "
            f"got review={review} block={block}"
        )
