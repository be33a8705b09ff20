"""The partitions a bridge's consumer holds, and whether their fetching is paused: one place
that keeps librdkafka's pause flags and the bridge's own view of them the same."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from fraudstream.ingest.metrics import IngestMetrics


class Holdings:
    """Held partitions by (topic, partition), and the window's pause over all of them.

    librdkafka keeps a partition's pause flag when it is unassigned and assigned again, so a
    partition that left while paused would come back never fetching: every assignment gets
    the pause state held now, explicitly, whatever the flag was (a resume keeps the offset an
    assignment sets: checked on librdkafka 2.16).
    """

    def __init__(self, metrics: IngestMetrics) -> None:
        self._metrics = metrics
        self._held: dict[tuple[str, int], TopicPartition] = {}
        self.paused = False

    def __bool__(self) -> bool:
        return bool(self._held)

    def __contains__(self, key: tuple[str, int]) -> bool:
        return key in self._held

    def pause(self, consumer: Consumer) -> None:
        """Stop fetching from every held partition (the window is full)."""
        if not self.paused and self._held:
            consumer.pause(list(self._held.values()))
            self._set_paused(True)

    def resume(self, consumer: Consumer) -> None:
        if self.paused:
            consumer.resume(list(self._held.values()))
            self._set_paused(False)

    def add(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Assign `partitions` (at their offsets, if set), paused or not as the others are."""
        consumer.incremental_assign(partitions)
        if partitions:
            (consumer.pause if self.paused else consumer.resume)(partitions)
        self._held.update({(p.topic, p.partition): p for p in partitions})

    def drop(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Unassign `partitions`; with none left, nothing is paused."""
        consumer.incremental_unassign(partitions)
        for partition in partitions:
            self._held.pop((partition.topic, partition.partition), None)
            # Another bridge reports these partitions' lag from now on.
            self._metrics.consumer_lag.remove(str(partition.partition))
        if not self._held:
            self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        self.paused = paused
        self._metrics.paused.set(1 if paused else 0)
