"""Translation between the learner core's types and fraudstream.v1 messages."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from fraudstream.common.errors import InvalidArgument
from fraudstream.learner.fleet import ScorerHello, ScorerView
from fraudstream.learner.rollback import ModelEstimate, RollbackRecord
from fraudstream.learner.status import LearnerStatus
from fraudstream.learner.window import snapshot_metrics
from fraudstream.v1 import learner_service_pb2


def hello_of(request: learner_service_pb2.SyncModelsRequest | None) -> ScorerHello:
    """The scorer's hello, or InvalidArgument when the stream does not start with one."""
    if request is None or request.WhichOneof("action") != "hello":
        raise InvalidArgument("the first SyncModels message must be 'hello'")
    hello = request.hello
    if not hello.scorer_id:
        raise InvalidArgument("hello.scorer_id must name the scorer")
    if hello.snapshot_version < 0:
        raise InvalidArgument(f"hello.snapshot_version must be >= 0, got {hello.snapshot_version}")
    return ScorerHello(
        scorer_id=hello.scorer_id,
        snapshot_version=hello.snapshot_version,
        feature_schema_hash=hello.feature_schema_hash,
        bundle_version=hello.bundle_version,
        snapshot_checksum=hello.snapshot_checksum,
    )


def _timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def status_response(
    status: LearnerStatus, scorers: list[ScorerView]
) -> learner_service_pb2.GetLearnerStatusResponse:
    response = learner_service_pb2.GetLearnerStatusResponse(
        champion_version=status.champion_version,
        bundle_version=status.bundle_version,
        label_position=status.label_position,
        labels_seen=status.labels_seen,
        updates=status.updates,
        promotions=status.promotions,
        refusals=status.refusals,
        champion_metrics=snapshot_metrics(status.champion, status.champion),
        challenger_metrics=snapshot_metrics(status.challenger, status.champion),
        scorers=[
            learner_service_pb2.ConnectedScorer(
                scorer_id=scorer.scorer_id,
                applied_version=scorer.applied_version,
                last_rejection=scorer.last_rejection,
                connected_time=_timestamp(scorer.connected_at),
            )
            for scorer in scorers
        ],
    )
    if status.last_promotion_time is not None:
        response.last_promotion_time.CopyFrom(_timestamp(status.last_promotion_time))
    response.rollbacks = status.rollbacks
    response.last_judgement = status.last_judgement
    if status.last_rollback is not None:
        response.last_rollback.CopyFrom(rollback_record(status.last_rollback))
    for estimate, field in (
        (status.champion_estimate, response.champion_evidence),
        (status.challenger_estimate, response.challenger_evidence),
    ):
        if estimate is not None:
            field.CopyFrom(_traffic_estimate(estimate))
    return response


def rollback_record(record: RollbackRecord) -> learner_service_pb2.RollbackRecord:
    return learner_service_pb2.RollbackRecord(
        version=record.version,
        rolled_back_from=record.rolled_back_from,
        restored_version=record.restored_version,
        reason=record.reason,
        automatic=record.automatic,
        rollback_time=_timestamp(record.time),
    )


def rollback_of(request: learner_service_pb2.RollbackRequest) -> tuple[int | None, str]:
    """(to_version or None for the previous champion, reason) of a Rollback request."""
    to_version = request.to_version if request.HasField("to_version") else None
    if to_version is not None and to_version < 0:
        raise InvalidArgument(f"to_version must be >= 0, got {to_version}")
    return to_version, request.reason


def _traffic_estimate(estimate: ModelEstimate) -> learner_service_pb2.TrafficEstimate:
    return learner_service_pb2.TrafficEstimate(
        precision=estimate.precision.estimate,
        precision_low=estimate.precision.low,
        precision_high=estimate.precision.high,
        recall=estimate.recall.estimate,
        recall_low=estimate.recall.low,
        recall_high=estimate.recall.high,
        labels=estimate.labels,
        audits=estimate.audits,
    )
