"""The embedded account path without a broker: per-partition enrichment, the enriched decoder."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fraudstream.common.codec import DecodeError
from fraudstream.ingest.accounts import PartitionAccounts
from fraudstream.ingest.batch import Batch
from fraudstream.ingest.enriched import decode_enriched
from fraudstream.ingest.metrics import IngestMetrics
from fraudstream.model.accounts import ACCOUNT_FEATURE_NAMES, compute_account_features
from fraudstream.v1.transaction_pb2 import Transaction


def _batch(rows: list[tuple[int, int, str, str, float]], first_offset: int) -> Batch:
    batch = Batch(seq=1, batch_id="b1")
    for i, (partition, step, orig, dest, amount) in enumerate(rows):
        tx = Transaction(event_id=f"e{i}", step=step, name_orig=orig, name_dest=dest, amount=amount)
        batch.transactions.append(tx)
        batch.sources.append(("t", partition, first_offset + i))
    return batch


def test_each_partition_has_its_own_state(tmp_path) -> None:
    rng = np.random.default_rng(3)
    rows = [
        (int(rng.integers(0, 2)), s, f"C{rng.integers(0, 8)}", f"C{rng.integers(5, 12)}", 10.0 * s)
        for s in sorted(rng.integers(1, 40, 600).tolist())
    ]
    metrics = IngestMetrics()
    accounts = PartitionAccounts(tmp_path, metrics, max_accounts=1000, snapshot_seconds=60)
    batches = [_batch(rows[i : i + 50], i) for i in range(0, len(rows), 50)]
    for batch in batches:
        accounts.enrich(batch)
    served = [list(tx.account_features) for b in batches for tx in b.transactions]
    for partition in (0, 1):
        picked = [i for i, row in enumerate(rows) if row[0] == partition]
        offline = compute_account_features(*zip(*[rows[i][1:] for i in picked], strict=True))
        np.testing.assert_allclose([served[i] for i in picked], offline, rtol=0, atol=1e-9)
    assert metrics.account_state_accounts._value.get() > 0


def test_a_transaction_with_a_hostile_amount_stays_out_of_the_state(tmp_path) -> None:
    accounts = PartitionAccounts(tmp_path, IngestMetrics(), max_accounts=10, snapshot_seconds=60)
    hostile = [math.nan, -5.0, 1e300, math.inf, 5.0]
    batch = _batch([(0, 1, "A", "B", amount) for amount in hostile], 0)
    accounts.enrich(batch)
    assert [len(tx.account_features) for tx in batch.transactions] == [0, 0, 0, 0, 14]
    assert batch.transactions[4].account_features[0] == 1.0  # orig_count_1: only itself


def test_decode_enriched_reads_the_flink_value() -> None:
    features = {name: float(i) + 1.0 for i, name in enumerate(ACCOUNT_FEATURE_NAMES)}
    value = {
        "transaction": {"event_id": "e1", "step": 2, "amount": 1.5},
        "account_features": features,
    }
    tx = decode_enriched(json.dumps(value).encode())
    assert tx.event_id == "e1" and tx.step == 2
    assert list(tx.account_features) == list(features.values())
    missing = dict(
        value, account_features={k: v for k, v in features.items() if k != "dest_count_1"}
    )
    for bad in (b"{}", json.dumps(missing).encode(), b"not json"):
        with pytest.raises(DecodeError) as raised:
            decode_enriched(bad)
        assert raised.value.reason == "bad_enriched"
