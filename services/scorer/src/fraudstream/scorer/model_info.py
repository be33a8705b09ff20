"""GetModelInfo: the serving model (versions, schema, thresholds) as messages (scores: wire.py)."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from fraudstream.model.detectors import AUTOENCODER, CLASSIFIER, ISOLATION_FOREST
from fraudstream.scorer.serving_model import ServingModel
from fraudstream.v1 import model_pb2, score_pb2, scoring_service_pb2

DETECTORS = {
    ISOLATION_FOREST: score_pb2.DETECTOR_ISOLATION_FOREST,
    AUTOENCODER: score_pb2.DETECTOR_AUTOENCODER,
    CLASSIFIER: score_pb2.DETECTOR_CLASSIFIER,
}


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
        feature_names=list(model.ensemble.feature_names),
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
