"""Prometheus metrics of the learner service, created once and passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fraudstream.common.grpc_errors import GrpcMetrics

# Label-to-served latency: a label recorded by an analyst until a scorer serves a model
# that learned from it. The target is p99 <= 1 s; the long tail covers idle windows.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)


class LearnerMetrics:
    """Every metric the learner service exports, on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.grpc = GrpcMetrics(self.registry)
        # The seed's name and meaning: online updates of the classifier (partial_fit calls).
        self.online_updates = Counter(
            "online_updates_total",
            "partial_fit updates of the challenger classifier (one per batch of labels).",
            registry=self.registry,
        )
        self.labels_consumed = Counter(
            "learner_labels_consumed_total",
            "Labels read from the feedback label log and learned from, by verdict.",
            ["verdict"],
            registry=self.registry,
        )
        self.examples_refused = Counter(
            "learner_examples_refused_total",
            "Labeled examples skipped because they cannot be learned from, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.promotions = Counter(
            "learner_promotions_total",
            "Challengers promoted to champion (each is a new snapshot version).",
            registry=self.registry,
        )
        self.refusals = Counter(
            "learner_promotion_refusals_total",
            "Promotion checks the challenger failed (worse than the champion beyond the margin).",
            registry=self.registry,
        )
        self.prequential_pr_auc = Gauge(
            "learner_prequential_pr_auc",
            "PR-AUC on the recent label window, each label scored before it was learned from.",
            ["model"],
            registry=self.registry,
        )
        self.prequential_recall = Gauge(
            "learner_prequential_recall",
            "Recall at the REVIEW threshold on the recent label window (prequential).",
            ["model"],
            registry=self.registry,
        )
        self.window_labels = Gauge(
            "learner_window_labels",
            "Labels in the prequential window.",
            registry=self.registry,
        )
        self.label_to_served = Histogram(
            "learner_label_to_served_seconds",
            "From the label_time of the newest label in a snapshot to the first scorer "
            "acking that snapshot as applied.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.snapshot_to_fleet = Histogram(
            "learner_snapshot_to_fleet_seconds",
            "From publishing a champion snapshot to the last connected scorer acking it "
            "applied, by kind (promotion, rollback).",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.snapshot_acks = Counter(
            "learner_snapshot_acks_total",
            "Scorer answers to pushed snapshots, by result (applied or rejected).",
            ["result"],
            registry=self.registry,
        )
        self.connected_scorers = Gauge(
            "learner_connected_scorers",
            "Scorers with an open SyncModels stream.",
            registry=self.registry,
        )
        self.champion_version = Gauge(
            "learner_champion_version",
            "Snapshot version of the champion (0: the bundle's own classifier).",
            registry=self.registry,
        )
        self.last_promotion = Gauge(
            "learner_last_promotion_timestamp_seconds",
            "Unix time of the last promotion (0: none yet).",
            registry=self.registry,
        )
        self.label_position = Gauge(
            "learner_label_position",
            "Last label-log position durably applied to the learner's state.",
            registry=self.registry,
        )
        self.stalled = Gauge(
            "learner_stalled",
            "1 while applying the labels after one position keeps failing (health NOT_SERVING).",
            registry=self.registry,
        )
        self.feedback_connected = Gauge(
            "learner_feedback_connected",
            "1 while the StreamLabels stream to the feedback service is open.",
            registry=self.registry,
        )
        self.rollbacks = Counter(
            "learner_rollbacks_total",
            "Rollbacks published (a new snapshot version restoring an earlier model), by "
            "reason: precision_drop (automatic) or operator (the Rollback RPC).",
            ["reason"],
            registry=self.registry,
        )
        self.judgements = Counter(
            "learner_promotion_judgements_total",
            "Promotion judgements on the evidence, by outcome (promote, refuse, wait) and cause "
            "(not_worse, few_labels, few_flagged, few_audits, no_interval, precision_lower_bound, "
            "recall_lower_bound, no_gain, rate_unresolved; matched_* when refused at the "
            "rate-matched threshold).",
            ["outcome", "cause"],
            registry=self.registry,
        )
        self.ipw_precision = Gauge(
            "learner_ipw_precision",
            "Inverse-propensity-weighted precision at the serving review threshold on the "
            "whole traffic, from the labels since the last promotion, by model and bound "
            "(estimate, low, high); NaN before any estimate.",
            ["model", "bound"],
            registry=self.registry,
        )
        self.ipw_recall = Gauge(
            "learner_ipw_recall",
            "Inverse-propensity-weighted recall at the serving review threshold on the whole "
            "traffic, by model and bound (estimate, low, high); NaN before any estimate.",
            ["model", "bound"],
            registry=self.registry,
        )
        self.evidence_labels = Gauge(
            "learner_evidence_labels",
            "Labels the newest IPW estimates rest on, by kind (alert, audit).",
            ["kind"],
            registry=self.registry,
        )
        for model in ("champion", "challenger"):
            self.prequential_pr_auc.labels(model)
            self.prequential_recall.labels(model)
            for bound in ("estimate", "low", "high"):
                self.ipw_precision.labels(model, bound).set(float("nan"))
                self.ipw_recall.labels(model, bound).set(float("nan"))
        for reason in ("precision_drop", "operator"):
            self.rollbacks.labels(reason)
        for kind in ("alert", "audit"):
            self.evidence_labels.labels(kind)
        for verdict in ("fraud", "legit"):
            self.labels_consumed.labels(verdict)
        for result in ("applied", "rejected"):
            self.snapshot_acks.labels(result)
        self.challengers_published = Counter(
            "learner_challengers_published_total",
            "Challenger snapshots pushed to scorers for shadow scoring (every N updates).",
            registry=self.registry,
        )
        self.challenger_acks = Counter(
            "learner_challenger_acks_total",
            "Scorers' answers to pushed challengers, by result.",
            ["result"],
            registry=self.registry,
        )
        for result in ("applied", "rejected"):
            self.challenger_acks.labels(result)
        self.label_drift_events = Counter(
            "learner_label_drift_events_total",
            "Changes in the precision of the champion's alerts (the FRAUD share of labels on "
            "transactions it flags) detected by the Page-Hinkley test.",
            registry=self.registry,
        )
        self.label_drift_statistic = Gauge(
            "learner_label_drift_statistic",
            "The Page-Hinkley statistic on the champion's alert precision (a change is "
            "signalled when it exceeds its threshold; it restarts at 0 after one).",
            registry=self.registry,
        )
        self.alert_precision = Gauge(
            "learner_alert_precision",
            "The champion's alert precision on the labels since the last detected change.",
            registry=self.registry,
        )
