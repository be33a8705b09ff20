"""A bundle trained with account features: scored over gRPC with the account features each
transaction carries, failing closed without them; a bundle without them ignores them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import grpc
import pandas as pd
import pytest
from google.protobuf import json_format

from fraudstream.model.accounts import ACCOUNT_FEATURE_NAMES, AccountState
from fraudstream.model.detectors import AUTOENCODER_INPUTS
from fraudstream.model.ensemble import load_ensemble
from fraudstream.model.features import FEATURE_NAMES, FEATURE_SCHEMA_HASH
from fraudstream.model.schema import ACCOUNT_SCHEMA
from fraudstream.scorer.server import ScorerDeps, build_server
from fraudstream.scorer.serving_model import ModelHolder, load_serving_model
from fraudstream.scorer.settings import ScorerSettings
from fraudstream.v1 import score_pb2, scoring_service_pb2, scoring_service_pb2_grpc
from fraudstream.v1.transaction_pb2 import Transaction


def _stub(bundle: Path) -> Iterator[scoring_service_pb2_grpc.ScoringServiceStub]:
    deps = ScorerDeps(holder=ModelHolder(load_serving_model(bundle)))
    settings = ScorerSettings(port=0, learner_addr="", insecure_allow_anonymous=True)
    service = build_server(settings, deps)
    service.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{service.port}")
    yield scoring_service_pb2_grpc.ScoringServiceStub(channel)
    channel.close()
    service.stop(0)


@pytest.fixture(scope="module")
def account_stub(account_bundle: Path) -> Iterator[scoring_service_pb2_grpc.ScoringServiceStub]:
    yield from _stub(account_bundle)


@pytest.fixture(scope="module")
def plain_stub(model_bundle: Path) -> Iterator[scoring_service_pb2_grpc.ScoringServiceStub]:
    yield from _stub(model_bundle)


@pytest.fixture(scope="module")
def enriched(account_bundle: Path) -> list[Transaction]:
    """The first 300 rows of the bundle's own data, with the embedded path's account features."""
    frame = pd.read_csv(account_bundle.parent / "paysim.csv", nrows=300)
    state = AccountState()
    out = []
    for i, row in enumerate(frame.itertuples()):
        tx = Transaction(
            event_id=f"e{i}", step=row.step, amount=row.amount, name_orig=row.nameOrig,
            name_dest=row.nameDest, old_balance_orig=row.oldbalanceOrg,
            new_balance_orig=row.newbalanceOrig, old_balance_dest=row.oldbalanceDest,
            new_balance_dest=row.newbalanceDest,
        )  # fmt: skip
        json_format.ParseDict({"type": f"TRANSACTION_TYPE_{row.type}"}, tx)
        tx.account_features.extend(state.update(row.step, row.nameOrig, row.nameDest, row.amount))
        out.append(tx)
    return out


def test_the_bundle_records_its_schema(account_bundle: Path) -> None:
    ensemble = load_ensemble(account_bundle)
    assert ensemble.account_features and ensemble.feature_names == ACCOUNT_SCHEMA.names
    assert ensemble.autoencoder is not None and ensemble.isolation_forest is not None
    inputs = [ensemble.feature_names[c] for c in ensemble.autoencoder.columns]
    assert inputs == [*AUTOENCODER_INPUTS, *ACCOUNT_FEATURE_NAMES]
    assert len(ensemble.isolation_forest.columns) == 3
    assert ensemble.classifier is not None
    assert ensemble.classifier.input_names[: ACCOUNT_SCHEMA.width] == ACCOUNT_SCHEMA.names


def test_scores_with_account_features(
    account_stub: scoring_service_pb2_grpc.ScoringServiceStub, enriched: list[Transaction]
) -> None:
    info = account_stub.GetModelInfo(scoring_service_pb2.GetModelInfoRequest())
    assert tuple(info.feature_names) == ACCOUNT_SCHEMA.names
    assert info.feature_schema_hash == ACCOUNT_SCHEMA.hash
    response = account_stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=enriched, include_features=True)
    )
    assert len(response.scores) == len(enriched)
    for tx, score in zip(enriched, response.scores, strict=True):
        assert not score.HasField("error"), score.error.message
        assert 0.0 <= score.risk <= 1.0
        assert score.features.schema_hash == ACCOUNT_SCHEMA.hash
        assert list(score.features.values[len(FEATURE_NAMES) :]) == list(tx.account_features)


def test_fails_closed_without_valid_account_features(
    account_stub: scoring_service_pb2_grpc.ScoringServiceStub, enriched: list[Transaction]
) -> None:
    missing, short, nan = (Transaction(), Transaction(), Transaction())
    for broken in (missing, short, nan):
        broken.CopyFrom(enriched[5])
        del broken.account_features[:]
    short.account_features.extend(enriched[5].account_features[:3])
    nan.account_features.extend([math.nan, *enriched[5].account_features[1:]])
    request = [enriched[4], missing, short, nan, enriched[6]]
    response = account_stub.Score(scoring_service_pb2.ScoreRequest(transactions=request))
    assert [s.HasField("error") for s in response.scores] == [False, True, True, True, False]
    for score in response.scores[1:4]:
        assert score.error.field == "account_features"
        assert score.decision == score_pb2.DECISION_UNSPECIFIED


def test_a_bundle_without_account_features_ignores_them(
    plain_stub: scoring_service_pb2_grpc.ScoringServiceStub, enriched: list[Transaction]
) -> None:
    bare = [Transaction() for _ in enriched[:20]]
    for tx, source in zip(bare, enriched, strict=False):
        tx.CopyFrom(source)
        del tx.account_features[:]
    with_them = plain_stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=enriched[:20], include_features=True)
    )
    without = plain_stub.Score(
        scoring_service_pb2.ScoreRequest(transactions=bare, include_features=True)
    )
    assert [s.risk for s in with_them.scores] == [s.risk for s in without.scores]
    assert all(s.features.schema_hash == FEATURE_SCHEMA_HASH for s in with_them.scores)
