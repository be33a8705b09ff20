"""Flink SQL of the account-feature job, generated from the one list of account feature specs.

Why the event time is `step` days plus the replay row in milliseconds: the account features
count, for an event at step s, the key's events of steps [s - window, s) and those of step s
that arrived before it. An OVER window on a unique, arrival-ordered time attribute
`rt = step * K + row` (K = one day) with `RANGE (window + 1) * K PRECEDING` holds exactly
those events, provided fewer than K events fall inside any window (86.4 million): an event of
step s - window - 1 sits below the bound because its row is smaller, one of step s - window
above it. Flink allows one frame per SELECT, so each (key, window) pair is one nested level.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)

# The Kafka value fields of a Transaction in proto3 JSON (preserving_proto_field_name).
TRANSACTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "STRING"),
    ("event_time", "STRING"),
    ("step", "INT"),
    ("type", "STRING"),
    ("amount", "DOUBLE"),
    ("name_orig", "STRING"),
    ("old_balance_orig", "DOUBLE"),
    ("new_balance_orig", "DOUBLE"),
    ("name_dest", "STRING"),
    ("old_balance_dest", "DOUBLE"),
    ("new_balance_dest", "DOUBLE"),
)
COUNTERPARTY = {"name_orig": "name_dest", "name_dest": "name_orig"}
AGGREGATES = ("count", "log_sum", "distinct", "since_last", "amount_vs_history")
# The replay row closing an event id (`<run-id>-<row>`, as `fraudstream replay` writes them).
ROW_PATTERN = r"-(\d+)$"
_DAY_MS = 86_400_000
# A DAY interval literal holds two digits: the frame of the longest window is 99 days.
MAX_WINDOW = 98


class FeatureSpec(Protocol):
    """What the generator reads of one account feature (fraudstream.model.accounts' shape)."""

    @property
    def name(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def aggregate(self) -> str: ...
    @property
    def window(self) -> int: ...


@dataclass(frozen=True)
class KafkaTopics:
    """Where the job reads and writes."""

    bootstrap: str
    source: str = "transactions"
    sink: str = "transactions.enriched"
    group_id: str = "fraudstream-flink-accounts"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _with(options: Mapping[str, str]) -> str:
    return ",\n  ".join(f"{_quote(k)} = {_quote(v)}" for k, v in options.items())


def source_ddl(topics: KafkaTopics) -> str:
    """The `transactions` table: JSON values, time attribute `rt` from step and replay row."""
    columns = ",\n  ".join(f"`{name}` {kind}" for name, kind in TRANSACTION_COLUMNS)
    options = {
        "connector": "kafka",
        "topic": topics.source,
        "properties.bootstrap.servers": topics.bootstrap,
        "properties.group.id": topics.group_id,
        # Without a checkpoint the state is empty, so the topic is read from its beginning;
        # a start from a checkpoint takes the checkpoint's offsets instead. The group's
        # committed offsets only show the job's lag to Kafka tools.
        "scan.startup.mode": "earliest-offset",
        "value.format": "json",
        "value.json.ignore-parse-errors": "true",
        "value.json.fail-on-missing-field": "false",
    }
    return (
        f"CREATE TEMPORARY TABLE transactions_in (\n  {columns},\n"
        # Where the record sits in Kafka: unique per record, it joins the features back to it.
        "  `k_partition` INT METADATA FROM 'partition' VIRTUAL,\n"
        "  `k_offset` BIGINT METADATA FROM 'offset' VIRTUAL,\n"
        f"  `row_seq` AS CAST(REGEXP_EXTRACT(`event_id`, {_quote(ROW_PATTERN)}, 1) AS BIGINT),\n"
        # A value without step or row still needs a time: 0 keeps the job alive; it is dropped.
        f"  `rt` AS TO_TIMESTAMP_LTZ(CAST(COALESCE(`step`, 0) AS BIGINT) * {_DAY_MS}"
        " + COALESCE(CAST(REGEXP_EXTRACT(`event_id`, "
        f"{_quote(ROW_PATTERN)}, 1) AS BIGINT), 0), 3),\n"
        "  WATERMARK FOR `rt` AS `rt`\n"
        f") WITH (\n  {_with(options)}\n)"
    )


def sink_ddl(topics: KafkaTopics) -> str:
    """`transactions.enriched`: key event_id; value {transaction, account_features}."""
    row = ", ".join(f"`{name}` {kind}" for name, kind in TRANSACTION_COLUMNS)
    options = {
        "connector": "kafka",
        "topic": topics.sink,
        "properties.bootstrap.servers": topics.bootstrap,
        "key.format": "raw",
        "key.fields": "k_event_id",
        "key.fields-prefix": "k_",
        "value.format": "json",
        "value.fields-include": "EXCEPT_KEY",
        # Proto3 JSON leaves defaults out; so do we, and json_format.Parse reads the result.
        "value.json.encode.ignore-null-fields": "true",
        "sink.delivery-guarantee": "at-least-once",
    }
    return (
        "CREATE TEMPORARY TABLE transactions_enriched (\n"
        "  `k_event_id` STRING,\n"
        f"  `transaction` ROW<{row}>,\n"
        "  `account_features` MAP<STRING, DOUBLE>\n"
        f") WITH (\n  {_with(options)}\n)"
    )


def _base_view() -> str:
    # Cents as the offline path rounds them (half to even): sums of cents are exact everywhere.
    scaled = "COALESCE(`amount`, CAST(0 AS DOUBLE)) * CAST(100 AS DOUBLE)"
    cents = (
        f"CAST(CASE WHEN {scaled} - FLOOR({scaled}) = CAST(0.5 AS DOUBLE) "
        f"THEN FLOOR({scaled}) + MOD(CAST(FLOOR({scaled}) AS BIGINT), 2) "
        f"ELSE ROUND({scaled}, 0) END AS BIGINT)"
    )
    return (
        "CREATE TEMPORARY VIEW accounts_0 AS SELECT *,\n"
        "  COALESCE(`step`, 0) AS f_step,\n"
        "  COALESCE(`name_orig`, '') AS f_name_orig,\n"
        "  COALESCE(`name_dest`, '') AS f_name_dest,\n"
        f"  {cents} AS f_cents\n"
        "FROM transactions_in WHERE `row_seq` IS NOT NULL"
    )


def _double(expression: str | int) -> str:
    return f"CAST({expression} AS DOUBLE)"


def _feature_expression(spec: FeatureSpec) -> str:
    """One feature as SQL over the level's window `w` (see the offline path for the meaning)."""
    count, cents = "COUNT(*) OVER w", "SUM(f_cents) OVER w"
    hundred = _double(100)
    if spec.aggregate == "count":
        return _double(count)
    if spec.aggregate == "log_sum":
        return f"LN(1 + {_double(cents)} / {hundred})"
    if spec.aggregate == "distinct":
        return _double(f"COUNT(DISTINCT f_{COUNTERPARTY[spec.key]}) OVER w")
    if spec.aggregate == "since_last":
        return (
            f"CASE WHEN {count} >= 2 THEN {_double(f'f_step - p_{spec.key}')} "
            f"ELSE {_double(spec.window + 1)} END"
        )
    if spec.aggregate == "amount_vs_history":
        history = f"{_double(f'{cents} - f_cents')} / {_double(f'{count} - 1')}"
        return (
            f"CASE WHEN {count} >= 2 THEN LN(1 + {_double('f_cents')} / {hundred}) "
            f"- LN(1 + {history} / {hundred}) ELSE {_double(0)} END"
        )
    raise ValueError(f"{spec.name}: aggregate {spec.aggregate!r} has no Flink SQL")


def check_specs(specs: Sequence[FeatureSpec]) -> None:
    """Refuse what the SQL cannot express exactly, before a job is started with it."""
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError("account feature names must be unique")
    for spec in specs:
        if spec.key not in COUNTERPARTY:
            raise ValueError(f"{spec.name}: unknown key {spec.key!r}")
        if spec.aggregate not in AGGREGATES:
            raise ValueError(f"{spec.name}: aggregate {spec.aggregate!r} has no Flink SQL")
        if not 0 <= spec.window <= MAX_WINDOW:
            raise ValueError(f"{spec.name}: window must be 0..{MAX_WINDOW} steps")


def _levels(specs: Sequence[FeatureSpec]) -> list[tuple[str, int, list[FeatureSpec]]]:
    """Specs grouped by (key, window) in first-seen order: one OVER frame each."""
    groups: dict[tuple[str, int], list[FeatureSpec]] = {}
    for spec in specs:
        groups.setdefault((spec.key, spec.window), []).append(spec)
    return [(key, window, members) for (key, window), members in groups.items()]


def _previous_step_view(level: int, key: str) -> str:
    # LAG refuses a RANGE frame, so the key's previous step comes from a two-row frame first:
    # the sum of both rows' steps less this one (used only where the window holds two events).
    return (
        f"CREATE TEMPORARY VIEW accounts_{level} AS SELECT *,\n"
        f"  SUM(f_step) OVER w - f_step AS p_{key}\n"
        f"FROM accounts_{level - 1}\n"
        f"WINDOW w AS (PARTITION BY f_{key} ORDER BY `rt` "
        "ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
    )


# What the keyed stages carry and keep in their window state: the transaction itself waits
# for its features in the join at the end instead of passing through (and being stored by)
# every stage; checkpoints of the window state were most of the job's cost with it.
_NARROW = ("k_partition", "k_offset", "rt", "f_step", "f_name_orig", "f_name_dest", "f_cents")


def _narrow_view() -> str:
    columns = ", ".join(f"`{name}`" for name in _NARROW)
    return f"CREATE TEMPORARY VIEW accounts_1 AS SELECT {columns} FROM accounts_0"


def feature_views(specs: Sequence[FeatureSpec]) -> list[str]:
    """The base view `accounts_0`, its narrow projection `accounts_1`, then nested views:
    previous steps, then one per (key, window)."""
    statements = [_base_view(), _narrow_view()]
    for key in COUNTERPARTY:
        if any(s.key == key and s.aggregate == "since_last" for s in specs):
            statements.append(_previous_step_view(len(statements), key))
    for key, window, members in _levels(specs):
        columns = ",\n  ".join(f"{_feature_expression(s)} AS `a_{s.name}`" for s in members)
        level = len(statements)
        statements.append(
            f"CREATE TEMPORARY VIEW accounts_{level} AS SELECT *,\n  {columns}\n"
            f"FROM accounts_{level - 1}\n"
            f"WINDOW w AS (PARTITION BY f_{key} ORDER BY `rt` RANGE BETWEEN "
            f"INTERVAL '{window + 1}' DAY PRECEDING AND CURRENT ROW)"
        )
    return statements


def insert_statement(specs: Sequence[FeatureSpec], last_view: str) -> str:
    """The INSERT that runs the job: the transaction as read plus the map of its features,
    joined by the record's Kafka partition and offset (an interval join of zero width on `rt`,
    so Flink drops both sides once the event-time clock has passed them)."""
    transaction = ", ".join(f"t.`{name}`" for name, _ in TRANSACTION_COLUMNS)
    features = ", ".join(f"{_quote(s.name)}, f.`a_{s.name}`" for s in specs)
    return (
        "INSERT INTO transactions_enriched SELECT t.`event_id`,\n"
        f"  ROW({transaction}),\n  MAP[{features}]\n"
        f"FROM accounts_0 AS t JOIN {last_view} AS f\n"
        "ON t.`k_partition` = f.`k_partition` AND t.`k_offset` = f.`k_offset`\n"
        "AND f.`rt` BETWEEN t.`rt` AND t.`rt`"
    )


def job_statements(specs: Sequence[FeatureSpec], topics: KafkaTopics) -> list[str]:
    """Every statement of the job in order; the last one (the INSERT) starts it."""
    check_specs(specs)
    if not specs:
        raise ValueError("no account features to compute")
    views = feature_views(specs)
    return [
        source_ddl(topics),
        sink_ddl(topics),
        *views,
        insert_statement(specs, f"accounts_{len(views) - 1}"),
    ]
