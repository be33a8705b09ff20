"""The PaySim CSV layout (the Kaggle file's header, column types and transaction types)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

# The Kaggle PaySim file's header, byte for byte (including its `oldbalanceOrg` spelling).
PAYSIM_COLUMNS: tuple[str, ...] = (
    "step",
    "type",
    "amount",
    "nameOrig",
    "oldbalanceOrg",
    "newbalanceOrig",
    "nameDest",
    "oldbalanceDest",
    "newbalanceDest",
    "isFraud",
    "isFlaggedFraud",
)
PAYSIM_HEADER = ",".join(PAYSIM_COLUMNS)

# Columns that describe the transaction itself; the last two are labels.
TRANSACTION_COLUMNS: tuple[str, ...] = PAYSIM_COLUMNS[:9]
LABEL_COLUMN = "isFraud"
FLAG_COLUMN = "isFlaggedFraud"
BALANCE_COLUMNS: tuple[str, ...] = (
    "oldbalanceOrg",
    "newbalanceOrig",
    "oldbalanceDest",
    "newbalanceDest",
)

# Type names in PaySim's spelling; index + 1 is the fraudstream.v1.TransactionType number.
TRANSACTION_TYPES: tuple[str, ...] = ("PAYMENT", "TRANSFER", "CASH_OUT", "CASH_IN", "DEBIT")
TYPE_CODES: dict[str, int] = {name: i + 1 for i, name in enumerate(TRANSACTION_TYPES)}

# pandas dtypes for reading a PaySim CSV (names as strings, amounts as float64).
PAYSIM_DTYPES: dict[str, str] = {
    "step": "int32",
    "type": "string",
    "amount": "float64",
    "nameOrig": "string",
    "oldbalanceOrg": "float64",
    "newbalanceOrig": "float64",
    "nameDest": "string",
    "oldbalanceDest": "float64",
    "newbalanceDest": "float64",
    "isFraud": "int8",
    "isFlaggedFraud": "int8",
}
