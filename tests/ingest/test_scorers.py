"""One bridge over two real scorer processes: batches spread, one scorer killed, nothing lost."""

from __future__ import annotations

import time

import pytest

from fraudstream.common.codec import decode_transaction
from fraudstream.v1 import score_pb2, scoring_service_pb2, scoring_service_pb2_grpc
from tests.processes import metric_samples

pytestmark = pytest.mark.integration


def test_killing_one_of_two_scorers_mid_replay_loses_nothing(
    start_service, model_bundle, pipeline_topics, kafka_bootstrap, replay, read_topic
):
    n = 6000
    scorers = [
        start_service("scorer", "--models", str(model_bundle), "--learner-addr", "")
        for _ in range(2)
    ]
    for scorer in scorers:
        scorer.wait_until_serving()
    ingest = start_service(
        "ingest",
        *pipeline_topics.ingest_args(kafka_bootstrap, "g-two-scorers"),
        "--scorer-addr",
        ",".join(s.address for s in scorers),
        "--feedback-addr",
        "",
        "--reconnect-max-seconds",
        "0.5",
    )
    ingest.wait_until_serving()
    replayer = replay(pipeline_topics.transactions, n, "two", "--rate", "1500")
    read_topic(pipeline_topics.scored, lambda ms: len(ms) >= 1500, timeout=60)
    sent = metric_samples(ingest.metrics_port, "ingest_scorer_batches_total")
    assert all(sent.get(f'{{scorer="{s.address}"}}', 0) > 0 for s in scorers), sent

    scorers[0].process.kill()
    scorers[0].process.wait(timeout=10)
    killed_at = time.monotonic()
    assert replayer.wait(timeout=120) == 0

    scored = read_topic(pipeline_topics.scored, lambda ms: len({m.key() for m in ms}) >= n)
    assert {m.key().decode() for m in scored} == {f"two-{row}" for row in range(n)}
    connected = metric_samples(ingest.metrics_port, "ingest_scorer_connected")
    assert connected[f'{{scorer="{scorers[0].address}"}}'] == 0
    assert connected[f'{{scorer="{scorers[1].address}"}}'] == 1
    print(f"all {n} scored {time.monotonic() - killed_at:.1f} s after the kill")
    # Each score stayed with its own transaction: the routed risk of every event is the one
    # the surviving scorer gives that transaction now.
    replayed = read_topic(pipeline_topics.transactions, lambda ms: len(ms) >= n)
    transactions = [decode_transaction(m.value()) for m in replayed]
    routed = {m.key().decode(): score_pb2.Score.FromString(m.value()).risk for m in scored}
    with scorers[1].channel() as channel:
        stub = scoring_service_pb2_grpc.ScoringServiceStub(channel)
        for start in range(0, n, 500):
            request = scoring_service_pb2.ScoreRequest(
                transactions=transactions[start : start + 500]
            )
            for score in stub.Score(request, timeout=30).scores:
                assert routed[score.event_id] == pytest.approx(score.risk, abs=1e-12)
    assert read_topic(pipeline_topics.dlq, lambda ms: False, timeout=2) == []
