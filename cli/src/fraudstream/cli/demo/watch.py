"""What the running pipeline says about itself: /metrics, GetModelInfo and GetLearnerStatus."""

from __future__ import annotations

import logging
import math
import time
import urllib.request
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import grpc
from prometheus_client.parser import text_string_to_metric_families

from fraudstream.common.transport import Transport
from fraudstream.v1 import (
    learner_service_pb2,
    learner_service_pb2_grpc,
    scoring_service_pb2,
    scoring_service_pb2_grpc,
)

logger = logging.getLogger(__name__)

Samples = dict[str, list[tuple[dict[str, str], float]]]


def scrape(url: str, timeout: float = 2.0) -> Samples:
    """Every sample of a Prometheus text endpoint, by sample name; empty when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode()
    except OSError:
        return {}
    samples: Samples = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name].append((dict(sample.labels), float(sample.value)))
    return dict(samples)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        value
        for sample_labels, value in samples.get(name, [])
        if all(sample_labels.get(k) == v for k, v in labels.items())
    )


def judgement_causes(learner: Samples) -> dict[str, dict[str, int]]:
    """The learner's promotion judgements as outcome -> cause -> count."""
    causes: dict[str, dict[str, int]] = {}
    for labels, value in learner.get("learner_promotion_judgements_total", []):
        outcome = causes.setdefault(labels["outcome"], {})
        outcome[labels["cause"]] = outcome.get(labels["cause"], 0) + int(value)
    return causes


def buckets(samples: Samples, histogram: str, **labels: str) -> dict[float, float]:
    """Cumulative bucket counts of a histogram, by upper bound, over its samples whose labels
    include `labels`."""
    counts: dict[float, float] = defaultdict(float)
    for sample_labels, value in samples.get(f"{histogram}_bucket", []):
        if all(sample_labels.get(k) == v for k, v in labels.items()):
            counts[float(sample_labels["le"])] += value
    return dict(counts)


def quantile(cumulative: Mapping[float, float], q: float) -> float | None:
    """The q-quantile of cumulative buckets, interpolated as Prometheus does; None if empty."""
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return None
    rank = q * cumulative[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bucket: its bound is all we know
            share = (rank - below) / (count - below) if count > below else 1.0
            return lower + (bound - lower) * share
        lower, below = bound, count
    return lower


def bucket_delta(now: Mapping[float, float], before: Mapping[float, float]) -> dict[float, float]:
    """The histogram of what was observed between two scrapes."""
    return {bound: count - before.get(bound, 0.0) for bound, count in now.items()}


@dataclass
class PipelineSample:
    """One look at every service."""

    at: float
    ingest: Samples = field(default_factory=dict)
    scorer: Samples = field(default_factory=dict)
    feedback: Samples = field(default_factory=dict)
    learner: Samples = field(default_factory=dict)
    scorer_version: str = "?"
    learner_status: learner_service_pb2.GetLearnerStatusResponse | None = None


@dataclass(frozen=True)
class Endpoints:
    """Where to look: each service's /metrics and the gRPC addresses of scorer and learner."""

    ingest_metrics: str
    scorer_metrics: str
    feedback_metrics: str
    learner_metrics: str
    scorer_addr: str
    learner_addr: str


class PipelineProbe:
    """Takes `PipelineSample`s over long-lived channels."""

    def __init__(self, endpoints: Endpoints, transport: Transport) -> None:
        self.endpoints = endpoints
        self._scorer_channel = transport.channel(endpoints.scorer_addr)
        self._learner_channel = transport.channel(endpoints.learner_addr)
        self._scorer = scoring_service_pb2_grpc.ScoringServiceStub(self._scorer_channel)
        self._learner = learner_service_pb2_grpc.LearnerServiceStub(self._learner_channel)

    def close(self) -> None:
        self._scorer_channel.close()
        self._learner_channel.close()

    def sample(self) -> PipelineSample:
        e = self.endpoints
        taken = PipelineSample(
            at=time.monotonic(),
            ingest=scrape(e.ingest_metrics),
            scorer=scrape(e.scorer_metrics),
            feedback=scrape(e.feedback_metrics),
            learner=scrape(e.learner_metrics),
        )
        try:
            info = self._scorer.GetModelInfo(scoring_service_pb2.GetModelInfoRequest(), timeout=2)
            taken.scorer_version = info.model_version
        except grpc.RpcError as exc:
            taken.scorer_version = f"({exc.code().name})"
        try:
            taken.learner_status = self._learner.GetLearnerStatus(
                learner_service_pb2.GetLearnerStatusRequest(), timeout=2
            )
        except grpc.RpcError:
            taken.learner_status = None
        return taken
