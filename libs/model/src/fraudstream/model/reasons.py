"""Words for analysts: what each classifier input means when it pushes the risk up."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

# For each classifier input: (text when its value is high, text when its value is low).
INPUT_TEXTS: dict[str, tuple[str, str]] = {
    "log_amount": ("large amount", "small amount"),
    "log_old_balance_orig": ("large origin balance before", "small origin balance before"),
    "log_new_balance_orig": ("large origin balance after", "origin balance after is low"),
    "log_old_balance_dest": (
        "large destination balance before",
        "destination balance before is low",
    ),
    "log_new_balance_dest": ("large destination balance after", "destination balance after is low"),
    "orig_balance_error": (
        "origin balances do not add up (money appears)",
        "origin balances add up with the amount",
    ),
    "dest_balance_error": (
        "destination balance did not receive the amount",
        "destination balance grew by more than the amount",
    ),
    "orig_error_ratio": ("origin balance error is large for the amount", "origin balances add up"),
    "dest_error_ratio": (
        "destination balance error is large for the amount",
        "destination balance grew by more than the amount",
    ),
    "amount_over_balance": (
        "amount is large for the origin balance",
        "amount is small for the origin balance",
    ),
    "drain_gap": ("amount differs from the origin balance", "amount equals the origin balance"),
    "dest_change": ("destination balance moved", "destination balance did not move"),
    "orig_emptied": ("origin account emptied", "origin account not emptied"),
    "orig_exact_drain": (
        "transaction empties the origin account exactly",
        "origin not drained exactly",
    ),
    "orig_zero_before": ("origin had no balance", "origin had a balance"),
    "dest_zero_before_after": (
        "destination balances are 0 before and after",
        "destination balances recorded",
    ),
    "dest_merchant": ("destination is a merchant", "destination is a customer"),
    "type_payment": ("type PAYMENT", "not a PAYMENT"),
    "type_transfer": ("type TRANSFER", "not a TRANSFER"),
    "type_cash_out": ("type CASH_OUT", "not a CASH_OUT"),
    "type_cash_in": ("type CASH_IN", "not a CASH_IN"),
    "type_debit": ("type DEBIT", "not a DEBIT"),
    "hour_sin": ("hour of day (evening side)", "hour of day (morning side)"),
    "hour_cos": ("hour of day (around midnight)", "hour of day (around noon)"),
    "isolation_forest_score": (
        "isolation forest finds it unusual",
        "isolation forest finds it usual",
    ),
    "autoencoder_score": ("autoencoder cannot reconstruct it", "autoencoder reconstructs it well"),
}


def input_text(name: str, standardised_value: float) -> str:
    """The analyst-facing phrase for an input at this standardised value."""
    high, low = INPUT_TEXTS.get(name, (f"{name} is high", f"{name} is low"))
    return high if standardised_value >= 0 else low
