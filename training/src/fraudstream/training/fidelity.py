"""Statistics that compare a PaySim-layout data set with PaySim's own output (fidelity)."""

from __future__ import annotations

import logging
from pathlib import Path
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


def _flatten(stats: dict[str, Any], prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in stats.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat.update({f"{name}.q{p:g}": v for p, v in zip(AMOUNT_PROBS, value, strict=True)})
        else:
            flat[name] = float(value)
    return flat


def volume_by_period(frame: pd.DataFrame) -> dict[str, float]:
    """Share of rows and of frauds in PaySim's uneven periods (days 1-2, 3-14, 15-31)."""
    day = (frame["step"].to_numpy() - 1) // 24
    fraud = frame["isFraud"].to_numpy() == 1
    periods = {"days_1_2": day < 2, "days_3_14": (day >= 2) & (day < 14), "days_15_31": day >= 14}
    result = {f"rows_{k}": float(v.mean()) for k, v in periods.items()}
    result |= {
        f"fraud_rate_{k}": float(fraud[v].mean()) if v.any() else 0.0 for k, v in periods.items()
    }
    return result


def markdown_table(simulated: Path, reference: Path) -> str:
    """A markdown table of every statistic, reference next to simulation."""
    ref_frame, sim_frame = pd.read_csv(reference), pd.read_csv(simulated)
    ref = _flatten(fidelity_stats(ref_frame)) | volume_by_period(ref_frame)
    sim = _flatten(fidelity_stats(sim_frame)) | volume_by_period(sim_frame)
    lines = ["| statistic | PaySim reference | fraudstream simulator |", "|---|---:|---:|"]
    lines += [f"| {k} | {ref[k]:.6g} | {sim.get(k, float('nan')):.6g} |" for k in ref]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(markdown_table(Path(sys.argv[1]), Path(sys.argv[2])))
