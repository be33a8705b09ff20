"""The Flink SQL generated from the feature specs: frames per key and window, refusals, paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from fraudstream.cli.flink.runtime import FlinkRuntime
from fraudstream.cli.flink.sql import MAX_WINDOW, KafkaTopics, feature_views, job_statements
from fraudstream.model.accounts import ACCOUNT_FEATURES

TOPICS = KafkaTopics(bootstrap="localhost:9092")


@dataclass(frozen=True)
class Spec:
    """A feature spec of the shape libs/model defines."""

    name: str
    key: str
    aggregate: str
    window: int


SPECS = (
    Spec("orig_count_1", "name_orig", "count", 1),
    Spec("orig_log_sum_1", "name_orig", "log_sum", 1),
    Spec("orig_since", "name_orig", "since_last", 24),
    Spec("dest_distinct_24", "name_dest", "distinct", 24),
    Spec("dest_vs_history_24", "name_dest", "amount_vs_history", 24),
)


def test_one_view_per_key_and_window_plus_the_previous_step_of_keys_with_since_last() -> None:
    views = feature_views(SPECS)
    # base view, its narrow projection, previous step of name_orig, (orig, 1), (orig, 24),
    # (dest, 24)
    assert len(views) == 6
    assert "event_time" not in views[1] and "FROM accounts_0" in views[1]
    frames = [re.search(r"PARTITION BY (\w+) ORDER BY `rt` (.*)\)$", v) for v in views[2:]]
    assert [(m.group(1), m.group(2)) for m in frames if m] == [
        ("f_name_orig", "ROWS BETWEEN 1 PRECEDING AND CURRENT ROW"),
        ("f_name_orig", "RANGE BETWEEN INTERVAL '2' DAY PRECEDING AND CURRENT ROW"),
        ("f_name_orig", "RANGE BETWEEN INTERVAL '25' DAY PRECEDING AND CURRENT ROW"),
        ("f_name_dest", "RANGE BETWEEN INTERVAL '25' DAY PRECEDING AND CURRENT ROW"),
    ]


def test_the_transaction_joins_its_features_by_kafka_record() -> None:
    insert = job_statements(SPECS, KafkaTopics("b:1"))[-1]
    assert "FROM accounts_0 AS t JOIN accounts_5 AS f" in insert
    assert "t.`k_partition` = f.`k_partition` AND t.`k_offset` = f.`k_offset`" in insert
    assert "f.`rt` BETWEEN t.`rt` AND t.`rt`" in insert


def test_every_spec_is_one_column_and_one_map_entry_in_spec_order() -> None:
    statements = job_statements(SPECS, TOPICS)
    insert = statements[-1]
    assert insert.startswith("INSERT INTO transactions_enriched")
    assert re.findall(r"'(\w+)', f\.`a_\1`", insert) == [s.name for s in SPECS]
    for spec in SPECS:
        assert sum(f"AS `a_{spec.name}`" in s for s in statements) == 1


def test_the_account_feature_definition_generates_the_job() -> None:
    statements = job_statements(ACCOUNT_FEATURES.features, TOPICS)
    assert re.findall(r"'(\w+)', f\.`a_\1`", statements[-1]) == list(ACCOUNT_FEATURES.names)


def test_topics_and_json_values_are_configured() -> None:
    source, sink = job_statements(SPECS, KafkaTopics("h:1", "in.t", "out.t", "g"))[:2]
    assert "'topic' = 'in.t'" in source and "'value.format' = 'json'" in source
    assert (
        "'properties.bootstrap.servers' = 'h:1'" in source
        and "'properties.group.id' = 'g'" in source
    )
    assert "WATERMARK FOR `rt` AS `rt`" in source
    assert "'topic' = 'out.t'" in sink and "`account_features` MAP<STRING, DOUBLE>" in sink


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ((Spec("a", "name_orig", "median", 1),), "no Flink SQL"),
        ((Spec("a", "account", "count", 1),), "unknown key"),
        ((Spec("a", "name_orig", "count", MAX_WINDOW + 1),), "window"),
        ((Spec("a", "name_orig", "count", 1), Spec("a", "name_dest", "count", 1)), "unique"),
        ((), "no account features"),
    ],
)
def test_specs_the_sql_cannot_express_are_refused(specs: tuple[Spec, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        job_statements(specs, TOPICS)


def test_runtime_paths_follow_the_pom_and_requirements() -> None:
    runtime = FlinkRuntime.locate(Path(__file__).parent)
    assert runtime.requirements.is_file() and runtime.runner.is_file()
    assert re.fullmatch(r"\d+\.\d+\.\d+-\d+\.\d+", runtime.connector_version)
    assert runtime.connector_jar.name == (
        f"flink-sql-connector-kafka-{runtime.connector_version}.jar"
    )
    # The connector's Flink line (its suffix) is the apache-flink the venv pins.
    flink_line = runtime.connector_version.split("-")[1]
    assert re.search(
        rf"^apache-flink=={re.escape(flink_line)}\.\d+ ", runtime.requirements.read_text(), re.M
    )
