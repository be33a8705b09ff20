"""PaySim rows as Transaction messages, with event ids `<run>-<row>`."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from fraudstream.model.paysim import TYPE_CODES
from fraudstream.v1.transaction_pb2 import Transaction


def transactions_of(chunk: pd.DataFrame, run_id: str, first_row: int) -> Iterator[Transaction]:
    """One Transaction per row of a PaySim chunk (unknown type names become TYPE_UNSPECIFIED)."""
    type_codes = chunk["type"].map(TYPE_CODES).fillna(0).astype(np.int64).tolist()
    columns = zip(
        chunk["step"].tolist(),
        type_codes,
        chunk["amount"].tolist(),
        chunk["nameOrig"].tolist(),
        chunk["oldbalanceOrg"].tolist(),
        chunk["newbalanceOrig"].tolist(),
        chunk["nameDest"].tolist(),
        chunk["oldbalanceDest"].tolist(),
        chunk["newbalanceDest"].tolist(),
        strict=True,
    )
    for offset, (step, code, amount, orig, old_o, new_o, dest, old_d, new_d) in enumerate(columns):
        yield Transaction(
            event_id=f"{run_id}-{first_row + offset}",
            step=step,
            type=code,
            amount=amount,
            name_orig=orig,
            old_balance_orig=old_o,
            new_balance_orig=new_o,
            name_dest=dest,
            old_balance_dest=old_d,
            new_balance_dest=new_d,
        )
