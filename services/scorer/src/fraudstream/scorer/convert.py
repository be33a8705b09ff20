"""Translation between the scoring core's arrays and fraudstream.v1 Score messages."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp

from fraudstream.model.detectors import AUTOENCODER, CLASSIFIER, ISOLATION_FOREST
from fraudstream.model.features import FEATURE_NAMES
from fraudstream.scorer.engine import ScoredBatch
from fraudstream.scorer.models import ServingModel
from fraudstream.v1 import model_pb2, score_pb2, scoring_service_pb2
from fraudstream.v1.transaction_pb2 import Transaction

DETECTORS = {
    ISOLATION_FOREST: score_pb2.DETECTOR_ISOLATION_FOREST,
    AUTOENCODER: score_pb2.DETECTOR_AUTOENCODER,
    CLASSIFIER: score_pb2.DETECTOR_CLASSIFIER,
}


def to_scores(
    batch: ScoredBatch, transactions: Sequence[Transaction], include_features: bool
) -> list[score_pb2.Score]:
    """One Score per transaction, in order: a risk and its explanation, or the item's error."""
    result = batch.scores
    version = batch.model.model_version
    risk = result.risk.tolist()
    decision = result.decision.tolist()
    detectors = [
        (
            DETECTORS[name],
            values.tolist(),
            result.raw[name].tolist(),
            result.fired[name].tolist(),
        )
        for name, values in result.scores.items()
    ]
    schema = batch.model.ensemble.feature_schema_hash
    features = batch.features.tolist() if include_features else None
    scores = []
    for i, transaction in enumerate(transactions):
        row = int(batch.rows[i])
        if row < 0:
            problem = batch.problems[i]
            scores.append(
                score_pb2.Score(
                    event_id=transaction.event_id,
                    model_version=version,
                    error=score_pb2.ItemError(field=problem.field, message=problem.message),
                )
            )
            continue
        score = score_pb2.Score(
            event_id=transaction.event_id,
            risk=risk[row],
            decision=decision[row],
            model_version=version,
            detector_scores=[
                score_pb2.DetectorScore(
                    detector=detector, score=values[row], raw_score=raws[row], fired=fired[row]
                )
                for detector, values, raws, fired in detectors
            ],
            reasons=[
                score_pb2.Reason(
                    code=reason.code,
                    text=reason.text,
                    contribution=reason.contribution,
                    detector=DETECTORS.get(reason.detector, score_pb2.DETECTOR_UNSPECIFIED),
                )
                for reason in batch.reasons[row]
            ],
        )
        if features is not None:
            score.features.schema_hash = schema
            score.features.values.extend(features[row])
        scores.append(score)
    return scores


def model_info(
    model: ServingModel, max_batch_size: int
) -> scoring_service_pb2.GetModelInfoResponse:
    """What GetModelInfo says about the serving model."""
    loaded = Timestamp()
    loaded.FromDatetime(model.loaded_at)
    info = scoring_service_pb2.GetModelInfoResponse(
        bundle_version=model.bundle_version,
        snapshot_version=model.snapshot_version,
        model_version=model.model_version,
        feature_names=list(FEATURE_NAMES),
        feature_schema_hash=model.ensemble.feature_schema_hash,
        thresholds=model_pb2.Thresholds(
            review=model.ensemble.thresholds.review, block=model.ensemble.thresholds.block
        ),
        loaded_time=loaded,
        detectors=[DETECTORS[name] for name in _detectors(model)],
        max_batch_size=max_batch_size,
    )
    if model.bundle_created is not None:
        info.bundle_created_time.FromDatetime(model.bundle_created)
    return info


def _detectors(model: ServingModel) -> list[str]:
    ensemble = model.ensemble
    present = {
        ISOLATION_FOREST: ensemble.isolation_forest,
        AUTOENCODER: ensemble.autoencoder,
        CLASSIFIER: ensemble.classifier,
    }
    return [name for name, part in present.items() if part is not None]
