"""Scorers serve only snapshots a trusted key signed, and never weights that overflow the risk."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fraudstream.model.signing import Signer, Verifier, make_signing_key
from fraudstream.model.snapshot import SnapshotRejected, snapshot_checksum, snapshot_of
from fraudstream.scorer.serving_model import ModelHolder, ServingModel, load_serving_model


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Signer, Signer, Verifier]:
    """The learner's signer, a rogue signer, and a verifier trusting only the learner."""
    (tmp_path / "learner").mkdir()
    (tmp_path / "rogue").mkdir()
    private, public = make_signing_key(tmp_path / "learner")
    rogue_private, _ = make_signing_key(tmp_path / "rogue")
    return Signer.from_file(private), Signer.from_file(rogue_private), Verifier.from_files([public])


def _snapshot(model: ServingModel, version: int, signer: Signer | None, **changes: object):
    linear = model.ensemble.classifier
    assert linear is not None
    return snapshot_of(
        replace(linear, **changes),  # type: ignore[arg-type]
        model.ensemble.thresholds,
        version=version,
        bundle_version=model.bundle_version,
        feature_schema_hash=model.ensemble.feature_schema_hash,
        signer=signer,
    )


def test_only_snapshots_signed_by_a_trusted_key_are_served(model_bundle: Path, keys) -> None:
    learner, rogue, verifier = keys
    holder = ModelHolder(load_serving_model(model_bundle), verifier=verifier)
    model = holder.current
    assert model is not None
    linear = model.ensemble.classifier
    assert linear is not None
    zero = {"coefficients": np.zeros_like(linear.coefficients), "intercept": -30.0}
    for bogus, reason in [
        (_snapshot(model, 99, None, **zero), "not signed"),
        (_snapshot(model, 99, rogue, **zero), "not trusted"),
    ]:
        with pytest.raises(SnapshotRejected, match=reason):
            holder.apply_snapshot(bogus)
    # Weights changed after signing: the checksum no longer matches. Checksum recomputed by
    # the forger (who has no key): the learner's signature no longer matches the content.
    tampered = _snapshot(model, 2, learner)
    tampered.classifier.intercept = -30.0
    with pytest.raises(SnapshotRejected, match="checksum"):
        holder.apply_snapshot(tampered)
    tampered.checksum = snapshot_checksum(tampered)  # signature and key id kept
    with pytest.raises(SnapshotRejected, match="the signature does not match"):
        holder.apply_snapshot(tampered)
    assert holder.current is model  # still serving the bundle
    served = holder.apply_snapshot(_snapshot(model, 1, learner))
    assert served.snapshot_version == 1


def test_weights_that_would_overflow_the_risk_are_refused(model_bundle: Path, keys) -> None:
    learner, _, verifier = keys
    holder = ModelHolder(load_serving_model(model_bundle), verifier=verifier)
    model = holder.current
    assert model is not None
    linear = model.ensemble.classifier
    assert linear is not None
    huge = np.where(np.arange(linear.coefficients.size) % 2 == 0, 1e308, -1e308)
    with pytest.raises(SnapshotRejected, match="overflow"):
        holder.apply_snapshot(_snapshot(model, 1, learner, coefficients=huge))
    with pytest.raises(SnapshotRejected, match="overflow"):
        holder.apply_snapshot(_snapshot(model, 1, learner, intercept=-1e300))
    assert holder.current is model
