"""Warm restarts and signed bundles: a restarted scorer serves its last snapshot at once, and a
scorer given verify keys serves only bundles and snapshots a trusted key signed."""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fraudstream.learner.store import LearnerState, SnapshotStore
from fraudstream.model.signing import Signer, Verifier, make_signing_key
from fraudstream.model.snapshot import SnapshotRejected, seal, snapshot_checksum
from fraudstream.scorer.applied import AppliedSnapshots
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import model_pb2, scoring_service_pb2, scoring_service_pb2_grpc
from tests.waiting import wait_for

RETRY = 0.05


class Keys:
    """The trusted signing key (its public half in `public`) and a rogue one."""

    def __init__(self, directory: Path) -> None:
        (directory / "trusted").mkdir(parents=True)
        (directory / "rogue").mkdir()
        private, self.public = make_signing_key(directory / "trusted")
        self.private = private
        self.signer = Signer.from_file(private)
        self.rogue = Signer.from_file(make_signing_key(directory / "rogue")[0])
        self.verifier = Verifier.from_files([self.public])


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path / "keys")


def _signed(snapshot: model_pb2.ModelSnapshot, signer: Signer) -> model_pb2.ModelSnapshot:
    return seal(snapshot, signer)


def _health(port: int) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU a process used so far: on a shared, loaded machine the wall time
    to SERVING says more about the neighbours than about the start."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_the_loader_refuses_unsigned_and_mis_signed_bundles_until_a_signed_one_appears(
    model_bundle: Path, tmp_path: Path, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = tmp_path / "models"
    shutil.copytree(model_bundle, bundle)
    deps = ScorerDeps(metrics=ScorerMetrics(), holder=ModelHolder(verifier=keys.verifier))
    # The service's own bundle loader (a worker of the lifecycle) does the retrying.
    settings = ScorerSettings(
        port=0,
        learner_addr="",
        models=bundle,
        model_retry_seconds=RETRY,
        insecure_allow_anonymous=True,
    )  # type: ignore[call-arg]
    service = build_server(settings, deps)
    caplog.set_level(logging.ERROR, logger="fraudstream.scorer.loader")

    def loader_alive() -> bool:
        return any(t.name == "bundle-loader" and t.is_alive() for t in threading.enumerate())

    service.start()
    try:
        for reason, sign in [
            ("is not signed (no manifest.sig)", lambda: None),
            ("which is not trusted", lambda: keys.rogue.sign_bundle(bundle)),
        ]:
            sign()
            wait_for(lambda r=reason: any(r in rec.getMessage() for rec in caplog.records))
            time.sleep(10 * RETRY)
            assert loader_alive(), "the loader keeps retrying"
            assert deps.holder.current is None
            assert _health(service.port) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert len([r for r in caplog.records if "not trusted" in r.getMessage()]) == 1
        keys.signer.sign_bundle(bundle)
        assert deps.holder.wait_loaded(timeout=30), "a signed bundle on disk is enough"
        wait_for(lambda: not loader_alive())
        wait_for(lambda: _health(service.port) == health_pb2.HealthCheckResponse.SERVING)
    finally:
        service.stop(0)


def test_the_applied_snapshot_is_kept_and_restored_through_every_check(
    model_bundle: Path,
    tmp_path: Path,
    keys: Keys,
    caplog: pytest.LogCaptureFixture,
    make_snapshot,
) -> None:
    applied = AppliedSnapshots.of_scorer(tmp_path / "var", "host:50051")
    assert applied.path == tmp_path / "var" / "scorer" / "host_50051" / "applied.binpb"
    bundle_model = load_serving_model(model_bundle)
    holder = ModelHolder(bundle_model, verifier=keys.verifier, applied=applied)
    v3 = _signed(make_snapshot(bundle_model, 3, intercept_shift=1.0), keys.signer)
    holder.apply_snapshot(v3)
    assert applied.load() == v3

    restarted = ModelHolder(verifier=keys.verifier, applied=applied)
    restored = restarted.restored(load_serving_model(model_bundle))
    assert (restored.snapshot_version, restored.snapshot_checksum) == (3, v3.checksum)
    assert restored.model_version.endswith("+s3")

    caplog.set_level(logging.WARNING, logger="fraudstream.scorer.serving_model")
    forged = model_pb2.ModelSnapshot()
    forged.CopyFrom(v3)
    forged.classifier.intercept = 30.0
    forged.checksum = snapshot_checksum(forged)
    other_bundle = model_pb2.ModelSnapshot()
    other_bundle.CopyFrom(v3)
    other_bundle.bundle_version = "20200101T000000Z-000000000000"
    for bad, reason in [
        (forged, "the signature does not match"),
        (_signed(make_snapshot(bundle_model, 4), keys.rogue), "not trusted"),
        (_signed(other_bundle, keys.signer), "built on bundle"),
    ]:
        applied.save(bad)
        caplog.clear()
        model = ModelHolder(verifier=keys.verifier, applied=applied).restored(bundle_model)
        assert model is bundle_model, reason
        assert reason in caplog.text
    applied.path.write_bytes(b"\xff\xff not a snapshot")
    assert ModelHolder(applied=applied).restored(bundle_model) is bundle_model


def test_only_the_answer_to_a_hello_may_replace_a_newer_served_snapshot(
    model_bundle: Path, keys: Keys, make_snapshot
) -> None:
    bundle_model = load_serving_model(model_bundle)
    holder = ModelHolder(bundle_model, verifier=keys.verifier)
    holder.apply_snapshot(_signed(make_snapshot(bundle_model, 99, 2.0), keys.signer))
    champion = _signed(make_snapshot(bundle_model, 3, 1.0), keys.signer)
    with pytest.raises(SnapshotRejected, match="not newer"):
        holder.apply_snapshot(champion)  # a stale replay
    rogue = _signed(make_snapshot(bundle_model, 3, 1.0), keys.rogue)
    with pytest.raises(SnapshotRejected, match="not trusted"):
        holder.apply_snapshot(rogue, replaces_served=True)  # authority needs a trusted key
    served = holder.apply_snapshot(champion, replaces_served=True)
    assert (served.snapshot_version, served.snapshot_checksum) == (3, champion.checksum)


@pytest.mark.integration
def test_a_restarted_scorer_serves_its_last_snapshot_at_once(
    start_service,
    model_bundle: Path,
    tmp_path: Path,
    keys: Keys,
    sample_transactions,
    make_snapshot,
) -> None:
    bundle = tmp_path / "models"
    shutil.copytree(model_bundle, bundle)
    keys.signer.sign_bundle(bundle)
    bundle_model = load_serving_model(bundle, keys.verifier)
    # The learner's durable state: snapshot v3 is its champion.
    champion = _signed(make_snapshot(bundle_model, 3, intercept_shift=1.0), keys.signer)
    lineage = re.sub(r"[^A-Za-z0-9._-]", "_", bundle_model.bundle_version)
    store = SnapshotStore(tmp_path / "var" / "learner" / lineage)
    store.save_snapshot(champion)
    classifier = bundle_model.ensemble.classifier
    assert classifier is not None
    state = LearnerState.start(
        bundle_model.bundle_version, bundle_model.ensemble.feature_schema_hash, classifier
    )
    state.champion_version = 3
    store.save_state(state)

    started = time.monotonic()
    learner = start_service(
        "learner",
        *("--models", str(bundle), "--data-dir", str(tmp_path / "var")),
        *("--feedback-addr", "", "--model-signing-key", str(keys.private)),
        *("--model-verify-keys", str(keys.public)),
    )
    learner.wait_until_serving()
    learner_start = time.monotonic() - started
    learner_cpu = _cpu_seconds(learner.process.pid)
    scorer_args = (
        *("--models", str(bundle), "--data-dir", str(tmp_path / "var")),
        *("--scorer-id", "scorer-warm", "--model-verify-keys", str(keys.public)),
    )
    scorer = start_service("scorer", *scorer_args, "--learner-addr", learner.address)
    scorer.wait_until_serving()
    request = scoring_service_pb2.ScoreRequest(transactions=sample_transactions[:2])

    def served_version(port: int) -> str:
        with scorer.transport.channel(f"127.0.0.1:{port}") as channel:
            stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
            return stub.Score(request, timeout=10).scores[0].model_version

    wait_for(lambda: served_version(scorer.port).endswith("+s3"))
    assert scorer.terminate(timeout=20) == 0
    assert learner.terminate(timeout=20) == 0

    # The learner is down: the restarted scorer has only its own disk to go by.
    started = time.monotonic()
    restarted = start_service("scorer", *scorer_args, "--learner-addr", learner.address, wait=False)
    restarted.wait_until_listening(timeout=30)
    restarted.wait_until_serving(timeout=30)
    scorer_restart = time.monotonic() - started
    scorer_cpu = _cpu_seconds(restarted.process.pid)
    assert served_version(restarted.port).endswith("+s3"), "never the bundle's own model"
    assert "serving the persisted snapshot v3 again" in restarted.log()
    print(
        f"\nrestart to SERVING (load average {os.getloadavg()[0]:.1f}): scorer "
        f"{scorer_restart:.2f} s, {scorer_cpu:.2f} s CPU (persisted snapshot, warm forest "
        f"cache); learner {learner_start:.2f} s, {learner_cpu:.2f} s CPU (state.json and "
        "champion v3)"
    )
    # The engines came from the engine cache: nothing was unpickled, so scikit-learn (seconds
    # of CPU to import) was never loaded, before SERVING or after.
    assert "/sklearn/" not in Path(f"/proc/{restarted.process.pid}/maps").read_text()
    # Loose bounds: the wall time follows the machine's load (2 shared cores here); the CPU
    # time is what the start itself costs (about 1 s, 3.3 s when it imported scikit-learn).
    assert scorer_cpu < 3.0
    assert scorer_restart < 30.0
