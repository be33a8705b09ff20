"""The account features' wire bytes parse to what the protobuf API sets."""

from __future__ import annotations

import numpy as np

from fraudstream.ingest.account_wire import fill_account_features
from fraudstream.v1.transaction_pb2 import Transaction


def test_wire_rows_equal_the_api_and_replace_what_the_producer_sent() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(5, 14)) * 10.0 ** rng.integers(-300, 300, (5, 14))
    features[0, :3] = [0.0, -0.0, 25.0]
    sent = Transaction(event_id="e0", step=3, name_orig="C1", account_features=[9.0, 9.0])
    ours = [sent] + [Transaction(event_id=f"e{i}", amount=1.5 * i) for i in range(1, 5)]
    expected = [Transaction() for _ in range(5)]
    for tx, mine, row in zip(expected, ours, features.tolist(), strict=True):
        tx.CopyFrom(mine)
        tx.account_features[:] = row
    fill_account_features(ours, features)
    for tx, want in zip(ours, expected, strict=True):
        assert tx == want
        assert tx.SerializeToString() == want.SerializeToString()
    assert [tx.account_features[0] for tx in ours] == features[:, 0].tolist()
    fill_account_features([], np.empty((0, 14)))
