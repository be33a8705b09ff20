"""Statistics that compare a PaySim-layout data set with PaySim's own output (fidelity)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from fraudstream.model.paysim import TRANSACTION_TYPES

logger = logging.getLogger(__name__)

AMOUNT_PROBS = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)


def fidelity_stats(frame: pd.DataFrame) -> dict[str, Any]:
    """Type shares, amount quantiles per type, fraud rates, emptied accounts, balance errors."""
    n = len(frame)
    kinds = frame["type"].astype(str)
    fraud = frame["isFraud"].to_numpy() == 1
    old_o = frame["oldbalanceOrg"].to_numpy()
    new_o = frame["newbalanceOrig"].to_numpy()
    old_d = frame["oldbalanceDest"].to_numpy()
    new_d = frame["newbalanceDest"].to_numpy()
    amount = frame["amount"].to_numpy()
    orig_ok = np.abs(new_o + amount - old_o) < 0.01
    dest_ok = np.abs(old_d + amount - new_d) < 0.01
    emptied = (old_o > 0) & (new_o == 0)
    dest_zero = (old_d == 0) & (new_d == 0)
    risky = kinds.isin(["TRANSFER", "CASH_OUT"]).to_numpy()
    stats: dict[str, Any] = {
        "rows": n,
        "fraud_rate": float(fraud.mean()),
        "flagged_rate": float((frame["isFlaggedFraud"].to_numpy() == 1).mean()),
        "type_share": {t: float((kinds == t).mean()) for t in TRANSACTION_TYPES},
        "fraud_share_by_type": {
            t: float(fraud[(kinds == t).to_numpy()].mean()) if (kinds == t).any() else 0.0
            for t in TRANSACTION_TYPES
        },
        "amount_quantiles": {
            t: [
                float(v)
                for v in np.quantile(amount[(kinds == t).to_numpy() & ~fraud], AMOUNT_PROBS)
            ]
            for t in TRANSACTION_TYPES
            if ((kinds == t).to_numpy() & ~fraud).any()
        },
        "emptied_share_legit": float(emptied[risky & ~fraud].mean()),
        "emptied_share_fraud": float(emptied[fraud].mean()) if fraud.any() else 0.0,
        "origin_zero_share_legit": float((old_o[risky & ~fraud] == 0).mean()),
        "origin_adds_up_legit": float(orig_ok[risky & ~fraud].mean()),
        "origin_adds_up_fraud": float(orig_ok[fraud].mean()) if fraud.any() else 0.0,
        "dest_adds_up_legit": float(dest_ok[risky & ~fraud].mean()),
        "dest_zero_share_legit": float(dest_zero[risky & ~fraud].mean()),
        "dest_zero_share_fraud": float(dest_zero[fraud].mean()) if fraud.any() else 0.0,
        "merchant_dest_share": float(frame["nameDest"].astype(str).str.startswith("M").mean()),
    }
    return stats
