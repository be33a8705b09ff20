"""Scores transactions over the StreamScores stream, isolating any the scorer cannot score."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol

import grpc

from fraudstream.ingest.futures import all_of, failed, recover, resolved, then
from fraudstream.ingest.routing import Unscorable
from fraudstream.ingest.streams import REQUEST_FAULTS
from fraudstream.v1 import score_pb2, scoring_service_pb2
from fraudstream.v1.transaction_pb2 import Transaction

logger = logging.getLogger(__name__)

Scored = list[score_pb2.Score | Unscorable]


class ScoreStream(Protocol):
    """Where StreamScores requests go: one scorer's OrderedStream, or a ScorerPool."""

    def submit(
        self, request: scoring_service_pb2.StreamScoresRequest
    ) -> Future[scoring_service_pb2.StreamScoresResponse]: ...


class ScorerClient:
    """`score(batch_id, transactions)`: the future of one score (or Unscorable) per transaction.

    When the scorer fails a whole request with a status that blames the request (say UNKNOWN
    "Input X contains infinity" for one extreme transaction), the request is split in two and
    each half scored again, down to single transactions: the one that still fails becomes
    Unscorable and every other transaction of the batch is scored. Failures of the connection
    are not seen here: the stream resends the request until it is answered.
    """

    def __init__(self, stream: ScoreStream) -> None:
        self._stream = stream

    def score(self, batch_id: str, transactions: Sequence[Transaction]) -> Future[Scored]:
        request = scoring_service_pb2.StreamScoresRequest(
            batch_id=batch_id, transactions=transactions, include_features=True
        )
        return recover(
            self._stream.submit(request),
            lambda response: resolved(_paired(batch_id, len(transactions), response)),
            lambda error: self._isolate(batch_id, transactions, error),
        )

    def _isolate(
        self, batch_id: str, transactions: Sequence[Transaction], error: BaseException
    ) -> Future[Scored]:
        if not isinstance(error, grpc.RpcError) or error.code() not in REQUEST_FAULTS:
            return failed(error)
        reason = f"{error.code().name}: {error.details()}"
        if len(transactions) == 1:
            logger.warning(
                "the scorer cannot score event %s (%s); dead-lettering it",
                transactions[0].event_id,
                reason,
            )
            return resolved([Unscorable(reason)])
        logger.info("the scorer failed batch %s (%s); scoring its halves", batch_id, reason)
        middle = len(transactions) // 2
        halves = [
            self.score(f"{batch_id}.0", transactions[:middle]),
            self.score(f"{batch_id}.1", transactions[middle:]),
        ]
        return then(all_of(halves), lambda parts: resolved([*parts[0], *parts[1]]))


def _paired(
    batch_id: str, count: int, response: scoring_service_pb2.StreamScoresResponse
) -> Scored:
    """The response's scores, after checking it answers this request (a broken contract stops
    the bridge rather than routing scores to the wrong transactions)."""
    if response.batch_id != batch_id or len(response.scores) != count:
        raise RuntimeError(
            f"scorer answered batch {response.batch_id} ({len(response.scores)} scores) "
            f"for {batch_id} ({count} transactions)"
        )
    return list(response.scores)
