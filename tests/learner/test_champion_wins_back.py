"""The learner's champion wins back a scorer serving a snapshot the learner never made.

A bogus high version (signed by a trusted key, so it got in) would stick if scorers only took
newer versions: the learner sees the scorer's hello name another snapshot and pushes its
champion marked replaces_served, which the scorer serves though its version is lower. Later
pushes follow the monotonic rule again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fraudstream.learner.fleet import ScorerHello, ScorerRegistry
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.server import build_server, open_deps
from fraudstream.learner.settings import LearnerSettings
from fraudstream.model.signing import Signer, Verifier, make_signing_key
from fraudstream.model.snapshot import snapshot_of
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.serving_model import ModelHolder, ServingModel, load_serving_model
from fraudstream.scorer.sync import SnapshotSync
from fraudstream.v1 import learner_service_pb2, model_pb2
from tests.waiting import wait_for

BATCH = 32


def _snapshot(model: ServingModel, version: int, signer: Signer) -> model_pb2.ModelSnapshot:
    linear = model.ensemble.classifier
    assert linear is not None
    return snapshot_of(
        replace(linear, intercept=linear.intercept - 25.0),  # would let every fraud through
        model.ensemble.thresholds,
        version=version,
        bundle_version=model.bundle_version,
        feature_schema_hash=model.ensemble.feature_schema_hash,
        signer=signer,
    )


@pytest.fixture
def signing(tmp_path: Path) -> tuple[Path, Signer, Verifier]:
    private, public = make_signing_key(tmp_path)
    return private, Signer.from_file(private), Verifier.from_files([public])


@pytest.fixture
def learner(model_bundle: Path, tmp_path: Path, signing) -> Iterator:
    private, _, _ = signing
    settings = LearnerSettings(
        port=0,
        models=model_bundle,
        data_dir=tmp_path / "var",
        feedback_addr="",
        batch_size=BATCH,
        promotion_rule="margin",  # the drift stream is all alerts: the mechanics, not the rule
        model_signing_key=private,
        insecure_allow_anonymous=True,  # the scorer's sync here carries no credentials
    )
    deps = open_deps(settings, LearnerMetrics())
    service = build_server(settings, deps)
    service.start()
    yield deps, f"127.0.0.1:{service.port}"
    service.stop(0.5)


def test_a_bogus_high_version_is_replaced_by_the_champion(
    learner, model_bundle: Path, signing, drift_stream
) -> None:
    deps, address = learner
    _, signer, verifier = signing
    for batch in drift_stream.batches(BATCH)[:12]:
        deps.learner.apply(deps.reader.read(batch))
    champion = deps.learner.status().champion_version
    assert champion >= 1, "the labels should have promoted a challenger"

    holder = ModelHolder(load_serving_model(model_bundle), verifier=verifier)
    bundle_model = holder.current
    assert bundle_model is not None
    bogus = _snapshot(bundle_model, 10_000, signer)
    holder.apply_snapshot(bogus)
    assert holder.current is not None and holder.current.snapshot_version == 10_000

    sync = SnapshotSync(address, "scorer-bogus", holder, ScorerMetrics(), 0.05, 0.2)
    sync.start()
    try:
        wait_for(lambda: holder.current.snapshot_version == champion, 15)  # type: ignore[union-attr]
        current = deps.registry.current
        assert current is not None
        assert holder.current.snapshot_checksum == current.checksum  # type: ignore[union-attr]
        (seen,) = deps.registry.scorers()
        wait_for(lambda: deps.registry.scorers()[0].applied_version == champion, 15)
        assert deps.registry.scorers()[0].last_rejection == ""

        # From then on the stream is ordinary: the next promotion follows.
        for batch in drift_stream.batches(BATCH)[12:]:
            deps.learner.apply(deps.reader.read(batch))
            if deps.learner.status().champion_version > champion:
                break
        newer = deps.learner.status().champion_version
        assert newer > champion
        wait_for(lambda: holder.current.snapshot_version == newer, 15)  # type: ignore[union-attr]
    finally:
        sync.stop()
    assert seen.scorer_id == "scorer-bogus"


def test_the_champion_is_pushed_only_to_scorers_that_serve_something_else() -> None:
    registry = ScorerRegistry(LearnerMetrics(), "bundle-1", "schema-1")
    champion = model_pb2.ModelSnapshot(version=4, bundle_version="bundle-1")
    champion.checksum = "c" * 64
    registry.publish(champion)

    def first_push(version: int, checksum: str):
        session = registry.connect(
            ScorerHello("s", version, "schema-1", "bundle-1", snapshot_checksum=checksum)
        )
        session.close()
        return next(iter(session.pushes()), None)

    assert first_push(4, champion.checksum) is None, "it serves the champion already"
    for version, checksum in [(0, ""), (3, "a" * 64), (4, "b" * 64), (9, "d" * 64)]:
        push = first_push(version, checksum)
        assert push is not None and push.snapshot is champion
        assert push.replaces_served


def test_a_replaces_served_push_after_the_first_is_held_to_the_monotonic_rule(
    model_bundle: Path, signing
) -> None:
    """A stale replay marked replaces_served later in a stream must not go back."""
    _, signer, verifier = signing
    holder = ModelHolder(load_serving_model(model_bundle), verifier=verifier)
    bundle_model = holder.current
    assert bundle_model is not None
    sync = SnapshotSync("127.0.0.1:1", "scorer-x", holder, ScorerMetrics())
    sync._hello()  # what a new stream does first
    first = learner_service_pb2.SyncModelsResponse(
        snapshot=_snapshot(bundle_model, 7, signer), replaces_served=True
    )
    (ack,) = sync._on_response(first)
    assert ack.ack.applied
    stale = learner_service_pb2.SyncModelsResponse(
        snapshot=_snapshot(bundle_model, 5, signer), replaces_served=True
    )
    (ack,) = sync._on_response(stale)
    assert not ack.ack.applied and "not newer" in ack.ack.reason
    assert holder.current is not None and holder.current.snapshot_version == 7
