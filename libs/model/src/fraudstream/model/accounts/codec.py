"""The account state as bytes: a magic line and zlib-compressed JSON columns (no pickle)."""

from __future__ import annotations

import json
import logging
import zlib
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any

logger = logging.getLogger(__name__)

MAGIC = b"fraudstream-accounts/1\n"
# A snapshot larger than this once inflated is refused (a bomb, or not ours).
MAX_INFLATED_BYTES = 4 << 30
_COUNTER_FIELDS = ("events", "late_events", "expired", "evictions")

Accounts = OrderedDict[str, list[tuple[int, str, int]]]


@dataclass(frozen=True)
class SavedState:
    """What a snapshot holds, checked."""

    max_accounts: int
    clock: int
    counters: dict[str, int]
    roles: dict[str, Accounts]


def encode_state(
    fingerprint: str, max_accounts: int, clock: int, counters: Any, roles: dict[str, Accounts]
) -> bytes:
    """Bytes of the state; accounts in least-recently-seen order, events as flat columns."""
    body: dict[str, Any] = {
        "definition": fingerprint,
        "max_accounts": max_accounts,
        "clock": clock,
        "counters": asdict(counters),
        "roles": {},
    }
    for key, accounts in roles.items():
        events = [e for account in accounts.values() for e in account]
        body["roles"][key] = {
            "names": list(accounts),
            "sizes": [len(account) for account in accounts.values()],
            "steps": [e[0] for e in events],
            "counterparties": [e[1] for e in events],
            "cents": [e[2] for e in events],
        }
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=True)
    return MAGIC + zlib.compress(text.encode("ascii"), 6)


def _ints(value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or not all(type(v) is int for v in value):
        raise ValueError(f"account snapshot: {what} must be a list of integers")
    return value


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(type(v) is str for v in value):
        raise ValueError(f"account snapshot: {what} must be a list of strings")
    return value


def _role(columns: Any, key: str, shared: dict[str, str]) -> Accounts:
    if not isinstance(columns, dict):
        raise ValueError(f"account snapshot: role {key} is not an object")
    names = _strings(columns.get("names"), f"{key}.names")
    sizes = _ints(columns.get("sizes"), f"{key}.sizes")
    steps = _ints(columns.get("steps"), f"{key}.steps")
    counterparties = _strings(columns.get("counterparties"), f"{key}.counterparties")
    cents = _ints(columns.get("cents"), f"{key}.cents")
    if len(sizes) != len(names) or len(set(names)) != len(names):
        raise ValueError(f"account snapshot: {key} names and sizes do not match")
    if any(size < 1 for size in sizes) or sum(sizes) != len(steps):
        raise ValueError(f"account snapshot: {key} event counts do not add up")
    if not len(steps) == len(counterparties) == len(cents):
        raise ValueError(f"account snapshot: {key} event columns differ in length")
    # One string object per name over both roles, as in the live state (JSON makes one per
    # occurrence: a restored state would otherwise hold each name many times over).
    names = [shared.setdefault(name, name) for name in names]
    counterparties = [shared.setdefault(name, name) for name in counterparties]
    accounts: Accounts = OrderedDict()
    start = 0
    for name, size in zip(names, sizes, strict=True):
        stop = start + size
        columns = (steps[start:stop], counterparties[start:stop], cents[start:stop])
        accounts[name] = list(zip(*columns, strict=True))
        start = stop
    return accounts


def decode_state(blob: bytes, fingerprint: str, keys: tuple[str, ...]) -> SavedState:
    """The state in `blob`; ValueError when it is not a snapshot of this definition."""
    if not blob.startswith(MAGIC):
        raise ValueError("not an account state snapshot (wrong magic)")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(blob[len(MAGIC) :], MAX_INFLATED_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("account snapshot is truncated or too large")
        body = json.loads(raw.decode("ascii"))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"account snapshot is corrupt: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("account snapshot is not an object")
    if body.get("definition") != fingerprint:
        raise ValueError("account snapshot was saved with another feature definition")
    scalars = [body.get("max_accounts"), body.get("clock")]
    if not all(type(v) is int for v in scalars) or scalars[0] < 1:  # type: ignore[operator]
        raise ValueError("account snapshot: max_accounts and clock must be integers")
    counters = body.get("counters")
    if not isinstance(counters, dict) or sorted(counters) != sorted(_COUNTER_FIELDS):
        raise ValueError("account snapshot: counters are missing or unknown")
    _ints(list(counters.values()), "counters")
    roles = body.get("roles")
    if not isinstance(roles, dict) or sorted(roles) != sorted(keys):
        raise ValueError("account snapshot: keys differ from the definition's")
    shared: dict[str, str] = {}
    return SavedState(
        max_accounts=scalars[0],  # type: ignore[arg-type]
        clock=scalars[1],  # type: ignore[arg-type]
        counters=counters,
        roles={key: _role(roles[key], key, shared) for key in keys},
    )
