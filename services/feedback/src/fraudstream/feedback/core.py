"""The feedback service's core: store, review queue, label log and publisher in one place."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fraudstream.common.names import FRAUD_LABELS
from fraudstream.feedback.convert import encode_label
from fraudstream.feedback.labels import LabelLog
from fraudstream.feedback.metrics import FeedbackMetrics
from fraudstream.feedback.publisher import LabelPublisher
from fraudstream.feedback.review_queue import ReviewQueue
from fraudstream.feedback.settings import FeedbackSettings
from fraudstream.feedback.store import FeedbackStore

logger = logging.getLogger(__name__)


class FeedbackCore:
    """Everything behind the FeedbackService RPCs; the gRPC servicer is a thin adapter on it."""

    def __init__(
        self,
        settings: FeedbackSettings,
        metrics: FeedbackMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics
        self.label_batch_wait = settings.label_batch_wait_ms / 1000
        self.store = FeedbackStore(settings.database_path)
        released = self.store.release_all_leases()
        if released:
            logger.info("%d lease(s) of the previous run returned to the queue", released)
        self.labels = LabelLog(self.store, metrics, clock)
        self.queue = ReviewQueue(self.store, self.labels, metrics, settings.lease_seconds, clock)
        self.publisher: LabelPublisher | None = None
        if settings.publish_labels:
            self.publisher = LabelPublisher(
                self.labels,
                self.store,
                metrics,
                bootstrap=settings.kafka_bootstrap,
                topic=FRAUD_LABELS,
                encode=encode_label,
            )
        logger.info(
            "feedback store %s: label log at position %d",
            settings.database_path,
            self.labels.last_position,
        )

    def start(self) -> None:
        if self.publisher is not None:
            self.publisher.start()

    def stop(self, flush_timeout: float) -> None:
        """End Review and StreamLabels streams cleanly and flush the label publisher."""
        self.queue.stop()
        self.labels.stop()
        if self.publisher is not None:
            self.publisher.stop(flush_timeout)

    def close(self) -> None:
        self.store.close()
