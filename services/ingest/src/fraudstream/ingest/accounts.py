"""The embedded account path: one AccountState per assigned partition, saved with its offsets.

Transactions are keyed by `name_orig`, so a partition holds every event of its origins: origin
features are exact. Destination features see only the partition's share of a destination's
payments (exact with one bridge holding every partition; docs/account-features.md).

State and offsets stay consistent across restarts: a snapshot is written (atomically) under
`<state dir>/<topic>-<partition>/<offset>.state`, where `offset` is the next offset it has not
seen. A partition assigned again restores the newest snapshot at or before the group's committed
offset, is consumed from the snapshot's offset, and the events up to the committed offset are
fed to the state only (they were routed before): nothing is lost, nothing counted twice, and
nothing scored twice.

There is always such a snapshot: a partition assigned without one saves its empty state at the
offset it starts from (the committed offset, else the low watermark), and snapshots are pruned
only against offsets the broker confirmed (the consumer's `on_commit`), never against commits
merely requested: periodic snapshots run ahead of the commits (batches in flight), and a bridge
killed before a confirmed commit passes one must still find an older one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from fraudstream.common.files import atomic_write
from fraudstream.ingest.account_wire import fill_account_features
from fraudstream.ingest.batch import Batch
from fraudstream.ingest.enriched import decode_enriched
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.ingest.settings import IngestSettings
from fraudstream.model.accounts import AccountState
from fraudstream.model.accounts.definition import MAX_AMOUNT

logger = logging.getLogger(__name__)

Key = tuple[str, int]
_SUFFIX = ".state"
# Snapshots kept at or before the broker's confirmed offset: the newest (what a restart uses)
# and one older, should the newest be unreadable.
_KEEP = 2


class PartitionAccounts:
    """Per-partition account state of a bridge: enriches batches, saves and restores state."""

    def __init__(
        self,
        directory: Path,
        metrics: IngestMetrics,
        max_accounts: int,
        snapshot_seconds: float,
    ) -> None:
        self._directory = directory
        self._metrics = metrics
        self._max_accounts = max_accounts
        self._snapshot_seconds = snapshot_seconds
        self._states: dict[Key, AccountState] = {}
        # The next offset each state has not seen, and below which events were routed already.
        self._covered: dict[Key, int] = {}
        self._replay_until: dict[Key, int] = {}
        # Evictions and expiries of each state already counted in the metrics.
        self._counted: dict[Key, tuple[int, int]] = {}
        # Each state's estimated bytes at its last snapshot (a walk over its accounts).
        self._bytes: dict[Key, int] = {}
        self._last_snapshot = time.monotonic()

    # --- rebalances (consumer thread, in the callbacks) ----------------------------------

    def assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """Restore each partition's state; the partitions to assign, at the offsets to resume."""
        committed = {
            (p.topic, p.partition): p.offset for p in consumer.committed(partitions, timeout=30)
        }
        resumed = []
        for partition in partitions:
            key = (partition.topic, partition.partition)
            offset = committed.get(key, -1)
            state, start = self._restore(key, offset)
            if start is not None:
                self._replay_until[key] = offset
            else:
                # No snapshot to resume from: the empty state where consumption starts is one,
                # saved now, so a restart before the first periodic snapshot is confirmed by a
                # commit still finds a snapshot at or before the committed offset.
                start = offset if offset >= 0 else _low_watermark(consumer, partition)
            self._states[key] = state
            self._counted[key] = (state.counters.evictions, state.counters.expired)
            if start is not None:
                self._covered[key] = start
                partition = TopicPartition(partition.topic, partition.partition, start)
                if key not in self._replay_until:
                    self._save(key)
            resumed.append(partition)
        self._observe()
        return resumed

    def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        """Save and forget the partitions' states (called after the drain and the commit)."""
        for key in [(p.topic, p.partition) for p in partitions]:
            if key in self._states and key in self._covered:
                self._save(key)
        self.lose(partitions)

    def lose(self, partitions: Iterable[TopicPartition]) -> None:
        """Forget the partitions' states unsaved (lost: another bridge may own them already)."""
        for partition in partitions:
            key = (partition.topic, partition.partition)
            self._states.pop(key, None)
            self._covered.pop(key, None)
            self._replay_until.pop(key, None)
            self._counted.pop(key, None)
            self._bytes.pop(key, None)
        self._observe()

    # --- the consumer thread --------------------------------------------------------------

    def enrich(self, batch: Batch) -> None:
        """Give each transaction its account features, partition by partition in offset order;
        drop the events below the committed offset (replayed into the state only)."""
        rows: dict[Key, list[int]] = {}
        for index, (topic, partition, _offset) in enumerate(batch.sources):
            rows.setdefault((topic, partition), []).append(index)
        replayed: set[int] = set()
        for key, indexes in rows.items():
            replayed.update(self._enrich_partition(batch, key, indexes))
        for topic, partition, offset in [r.source for r in batch.rejected]:
            key = (topic, partition)
            self._covered[key] = max(self._covered.get(key, 0), offset + 1)
        if replayed:
            self._metrics.account_replayed.inc(len(replayed))
            keep = [i for i in range(len(batch.transactions)) if i not in replayed]
            batch.transactions = [batch.transactions[i] for i in keep]
            batch.sources = [batch.sources[i] for i in keep]
        batch.rejected = [r for r in batch.rejected if not self._replaying(r.source)]
        self._observe()

    def consumer_config(self) -> dict[str, Any]:
        """What the bridge's consumer needs: the commit results, to prune snapshots against."""
        return {"on_commit": self.on_commit}

    def on_commit(self, error: KafkaError | None, offsets: list[TopicPartition]) -> None:
        """librdkafka's commit result (in poll/consume, on the consumer thread)."""
        if error is not None:
            logger.debug("offset commit not confirmed (%s); snapshots kept", error)
            return
        self.confirmed([p for p in offsets if p.error is None and p.offset >= 0])

    def confirmed(self, offsets: Iterable[TopicPartition]) -> None:
        """The broker holds these offsets: drop the snapshots a restart can no longer need."""
        for partition in offsets:
            self._prune((partition.topic, partition.partition), partition.offset)

    def committed(self, offsets: Iterable[TopicPartition]) -> None:
        """After a commit request: save a snapshot when one is due (it may run ahead of the
        request; nothing is pruned until the broker confirms, see `confirmed`)."""
        for partition in offsets:
            key = (partition.topic, partition.partition)
            if self._replay_until.get(key, -1) <= partition.offset:
                self._replay_until.pop(key, None)
        if time.monotonic() - self._last_snapshot >= self._snapshot_seconds:
            for key in list(self._states):
                if key in self._covered:
                    self._save(key)
            self._last_snapshot = time.monotonic()

    # --- internals --------------------------------------------------------------------------

    def _enrich_partition(self, batch: Batch, key: Key, indexes: list[int]) -> list[int]:
        state = self._states.get(key)
        if state is None:  # assigned outside the callbacks (tests): a fresh state
            state = self._states[key] = AccountState(max_accounts=self._max_accounts)
            self._counted[key] = (0, 0)
        txs = [batch.transactions[i] for i in indexes]
        amounts = np.fromiter((tx.amount for tx in txs), np.float64, len(txs))
        # An amount no path can add up (negative, not finite, beyond MAX_AMOUNT) stays out of
        # the state and gets no features: a bundle with account features refuses it.
        usable = np.isfinite(amounts) & (amounts >= 0) & (amounts <= MAX_AMOUNT)
        used = txs if usable.all() else [tx for tx, ok in zip(txs, usable, strict=True) if ok]
        features = state.update_batch(
            [tx.step for tx in used],
            [tx.name_orig for tx in used],
            [tx.name_dest for tx in used],
            amounts[usable],
        )
        fill_account_features(used, features)
        evictions, expired = self._counted[key]
        self._metrics.account_evictions.inc(state.counters.evictions - evictions)
        self._metrics.account_expired.inc(state.counters.expired - expired)
        self._counted[key] = (state.counters.evictions, state.counters.expired)
        offsets = [batch.sources[i][2] for i in indexes]
        self._covered[key] = max(self._covered.get(key, 0), max(offsets) + 1)
        until = self._replay_until.get(key, -1)
        return [i for i, offset in zip(indexes, offsets, strict=True) if offset < until]

    def _replaying(self, source: tuple[str, int, int]) -> bool:
        return source[2] < self._replay_until.get((source[0], source[1]), -1)

    def _folder(self, key: Key) -> Path:
        return self._directory / f"{key[0]}-{key[1]}"

    def _snapshots(self, key: Key) -> list[tuple[int, Path]]:
        folder = self._folder(key)
        if not folder.is_dir():
            return []
        found = []
        for path in folder.glob(f"*{_SUFFIX}"):
            if path.stem.isdigit():
                found.append((int(path.stem), path))
        return sorted(found)

    def _restore(self, key: Key, committed: int) -> tuple[AccountState, int | None]:
        """The newest usable snapshot's state and offset (None: a fresh state, where the
        consumer would start anyway)."""
        for offset, path in reversed(self._snapshots(key)):
            if committed < 0 or offset > committed:
                continue  # taken after the last commit: its events may not have been routed
            try:
                state = AccountState.restore(path.read_bytes())
            except (OSError, ValueError) as exc:
                logger.warning("account snapshot %s unusable (%s); trying an older one", path, exc)
                continue
            state.max_accounts = self._max_accounts
            logger.info(
                "partition %s-%d: account state restored at offset %d (%d accounts), "
                "replaying to the committed offset %d",
                key[0], key[1], offset, len(state), committed,
            )  # fmt: skip
            return state, offset
        if committed > 0:
            logger.warning(
                "partition %s-%d: no account snapshot at or before the committed offset %d; "
                "account state starts empty there (the next 24 steps undercount history)",
                key[0], key[1], committed,
            )  # fmt: skip
        return AccountState(max_accounts=self._max_accounts), None

    def _save(self, key: Key) -> None:
        started = time.perf_counter()
        offset = self._covered[key]
        state = self._states[key]
        blob = state.snapshot()
        atomic_write(self._folder(key) / f"{offset:020d}{_SUFFIX}", blob)
        self._metrics.account_snapshot_seconds.observe(time.perf_counter() - started)
        self._metrics.account_snapshot_bytes.set(len(blob))
        self._bytes[key] = state.nbytes()
        self._metrics.account_state_bytes.set(sum(self._bytes.values()))

    def _prune(self, key: Key, committed: int) -> None:
        held = [(o, p) for o, p in self._snapshots(key) if o <= committed]
        for _offset, path in held[:-_KEEP]:
            path.unlink(missing_ok=True)

    def _observe(self) -> None:
        self._metrics.account_state_accounts.set(sum(len(s) for s in self._states.values()))


def _low_watermark(consumer: Consumer, partition: TopicPartition) -> int | None:
    """The partition's first offset: where a group without a committed offset starts
    (`auto.offset.reset` earliest). None when the broker does not say in time."""
    try:
        low, _high = consumer.get_watermark_offsets(partition, timeout=10, cached=False)
    except KafkaException as exc:
        logger.warning(
            "partition %s-%d: no low watermark (%s)", partition.topic, partition.partition, exc
        )
        return None
    return int(low)


def account_wiring(settings: IngestSettings, metrics: IngestMetrics) -> dict[str, Any]:
    """The ConsumerLoop's account arguments for the settings: an embedded state per partition,
    the enriched topic's decoder (Flink), or nothing."""
    if settings.account_features == "embedded":
        accounts = PartitionAccounts(
            settings.account_state_dir(),
            metrics,
            settings.account_max_accounts,
            settings.account_snapshot_seconds,
        )
        return {"accounts": accounts}
    if settings.account_features == "flink":
        return {"decode": decode_enriched}
    return {}
