"""Rollback: the learner core's rule of what it restores, its record across a restart, and the
`fraudstream model rollback` command against a real learner server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from fraudstream.cli.main import cli
from fraudstream.common.errors import FailedPrecondition, InvalidArgument
from fraudstream.learner.fleet import ScorerRegistry
from fraudstream.learner.metrics import LearnerMetrics
from fraudstream.learner.server import LearnerDeps, build_server, open_deps
from fraudstream.learner.settings import LearnerSettings
from fraudstream.model.snapshot import check_snapshot, snapshot_checksum
from fraudstream.v1.model_pb2 import ModelSnapshot

BATCH = 32


def _promote_twice(under, drift_stream) -> None:
    for batch in drift_stream.batches(BATCH):
        under.feed(batch)
        if under.learner.status().champion_version >= 2:
            return
    raise AssertionError("the drift stream should promote twice")


def test_a_rollback_is_a_new_version_with_the_earlier_content(make_learner, drift_stream, tmp_path):
    under = make_learner(tmp_path / "s", batch_size=BATCH, promotion_rule="margin")
    with pytest.raises(FailedPrecondition, match="no earlier champion"):
        under.learner.rollback()
    _promote_twice(under, drift_stream)
    current = under.learner.status().champion_version
    with pytest.raises(InvalidArgument, match="serving now"):
        under.learner.rollback(current)
    previous = under.store.load_snapshot(current - 1)

    record = under.learner.rollback(reason="bad labels")
    assert (record.version, record.rolled_back_from, record.restored_version) == (
        current + 1,
        current,
        current - 1,
    )
    rolled = under.promoted[-1]
    assert rolled.version == current + 1
    # Same model and thresholds as the restored version, sealed anew under its own version.
    assert list(rolled.classifier.coefficients) == list(previous.classifier.coefficients)
    assert rolled.thresholds == previous.thresholds
    assert rolled.checksum == snapshot_checksum(rolled) != previous.checksum
    check_snapshot(
        rolled,
        feature_schema_hash=under.learner.baseline.feature_schema_hash,
        input_names=under.learner.baseline.classifier.input_names,
    )
    # The challenger starts again from the restored model.
    inputs = under.read(drift_stream.examples[:64]).inputs
    assert np.allclose(
        under.learner.champion.logit(inputs), under.learner._challenger.logit(inputs)
    )

    # A restarted learner serves the rollback and still knows why.
    resumed = make_learner(tmp_path / "s", batch_size=BATCH, promotion_rule="margin")
    status = resumed.learner.status()
    assert (status.champion_version, status.rollbacks) == (current + 1, 1)
    assert status.last_rollback == record
    assert resumed.learner.champion_snapshot == rolled


@pytest.fixture
def learner_server(
    model_bundle: Path, tmp_path: Path, credentials: Any
) -> Iterator[tuple[LearnerDeps, str]]:
    settings = LearnerSettings(
        port=0,
        models=model_bundle,
        data_dir=tmp_path / "var",
        feedback_addr="",
        batch_size=BATCH,
        promotion_rule="margin",
        analyst_tokens_file=credentials.tokens_file,
    )
    deps = open_deps(settings, LearnerMetrics())
    service = build_server(settings, deps)
    service.start()
    service.set_serving(True)
    yield deps, f"127.0.0.1:{service.port}"
    service.stop(0.5)


def test_the_rollback_command_talks_to_the_learner_and_prints_the_result(
    learner_server, drift_stream, credentials
):
    deps, address = learner_server
    runner = CliRunner()
    # Only an admin may roll back: a viewer's token is refused before anything happens.
    viewer = {
        "FRAUDSTREAM_LEARNER_ADDR": address,
        "FRAUDSTREAM_TOKEN": credentials.tokens["viewer"],
    }
    denied = runner.invoke(cli, ["model", "rollback"], env=viewer)
    assert denied.exit_code == 1 and "PERMISSION_DENIED" in denied.output
    env = {"FRAUDSTREAM_LEARNER_ADDR": address, "FRAUDSTREAM_TOKEN": credentials.tokens["admin"]}

    refused = runner.invoke(cli, ["model", "rollback"], env=env)
    assert refused.exit_code == 1
    assert "FAILED_PRECONDITION" in refused.output and "no earlier champion" in refused.output

    for batch in drift_stream.batches(BATCH):
        deps.learner.apply(deps.reader.read(batch))
        if deps.learner.status().champion_version >= 2:
            break
    current = deps.learner.status().champion_version
    default = runner.invoke(cli, ["model", "rollback"], env=env)
    assert default.exit_code == 0, default.output
    assert default.output.startswith(
        f"rolled back from v{current}: now serving v{current + 1} (the model of v{current - 1};"
    )
    to_bundle = runner.invoke(cli, ["model", "rollback", "--to", "0", "--reason", "drill"], env=env)
    assert to_bundle.exit_code == 0, to_bundle.output
    assert f"now serving v{current + 2} (the model of v0; reason: drill)" in to_bundle.output
    assert deps.registry.current is not None and deps.registry.current.version == current + 2


def test_the_registry_keeps_the_newest_snapshot_whatever_order_they_are_announced_in():
    """A rollback (RPC thread) and a promotion (label thread) may announce out of order."""
    registry = ScorerRegistry(LearnerMetrics(), "b1", "a" * 64)
    registry.publish(ModelSnapshot(version=3))
    registry.publish(ModelSnapshot(version=2))
    assert registry.current is not None and registry.current.version == 3
