"""`data features`: PaySim CSV -> feature parquet (features, step, label), chunk by chunk."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fraudstream.model.accounts import ChunkedAccountFeatures
from fraudstream.model.paysim import LABEL_COLUMN
from fraudstream.model.schema import TRANSACTION_SCHEMA, FeatureSchema, frame_features, schema_of
from fraudstream.training.csvio import read_paysim_chunks, replaced_on_success
from fraudstream.training.progress import stderr_progress

logger = logging.getLogger(__name__)

STEP_COLUMN = "step"


@dataclass(frozen=True)
class LabeledFeatures:
    """Feature rows (columns: `schema.names`) with their step and label (labels are -1 where the
    input had none)."""

    features: np.ndarray
    step: np.ndarray
    label: np.ndarray
    schema: FeatureSchema = field(default=TRANSACTION_SCHEMA)


def _schema(features: FeatureSchema) -> pa.Schema:
    fields = [pa.field(name, pa.float32()) for name in features.names]
    fields += [pa.field(STEP_COLUMN, pa.int32()), pa.field(LABEL_COLUMN, pa.int8())]
    return pa.schema(fields, metadata={b"feature_schema_hash": features.hash.encode()})


def labeled_from_frame(
    frame: pd.DataFrame,
    schema: FeatureSchema = TRANSACTION_SCHEMA,
    accounts: ChunkedAccountFeatures | None = None,
) -> LabeledFeatures:
    """Features, steps and labels of one PaySim chunk (`accounts`: the stream so far, for
    a schema with account features; see schema.frame_features)."""
    label = frame[LABEL_COLUMN] if LABEL_COLUMN in frame else pd.Series(-1, index=frame.index)
    return LabeledFeatures(
        features=frame_features(frame, schema, accounts),
        step=frame[STEP_COLUMN].to_numpy(dtype=np.int32),
        label=label.to_numpy(dtype=np.int8),
        schema=schema,
    )


def _csv_labeled(
    source: Path, chunk_rows: int, features: FeatureSchema
) -> Iterator[LabeledFeatures]:
    # One account stream for the whole file: row order is event order (docs/account-features.md).
    accounts = ChunkedAccountFeatures() if features.account_features else None
    for chunk in read_paysim_chunks(source, chunk_rows):
        yield labeled_from_frame(chunk, features, accounts)


def write_features(
    source: Path,
    output: Path,
    chunk_rows: int = 500_000,
    quiet: bool = False,
    features: FeatureSchema = TRANSACTION_SCHEMA,
) -> int:
    """Write the feature parquet of a PaySim CSV (the `features` schema); returns the row count.

    The parquet appears at `output` only when complete: a failure keeps the previous file.
    """
    rows = 0
    schema = _schema(features)
    with (
        replaced_on_success(output) as partial,
        pq.ParquetWriter(partial, schema, compression="zstd") as writer,
        stderr_progress(quiet) as bar,
    ):
        task = bar.add_task("features", total=None)
        for part in _csv_labeled(source, chunk_rows, features):
            columns = {
                name: part.features[:, i].astype(np.float32)
                for i, name in enumerate(features.names)
            }
            columns[STEP_COLUMN] = part.step
            columns[LABEL_COLUMN] = part.label
            writer.write_table(pa.table(columns, schema=schema))
            rows += part.label.size
            bar.update(task, advance=part.label.size)
    logger.info("wrote %d feature rows to %s", rows, output)
    return rows


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in {".parquet", ".pq"}


def iter_labeled(
    path: Path, chunk_rows: int = 500_000, schema: FeatureSchema | None = None
) -> Iterator[LabeledFeatures]:
    """Labeled feature chunks of a feature parquet or of any PaySim-layout CSV (plain or .gz).

    A CSV is featurised with `schema` (default: transaction features only); a parquet holds
    its own schema, which must be `schema` when one is asked for.
    """
    if not _is_parquet(path):
        yield from _csv_labeled(path, chunk_rows, schema or TRANSACTION_SCHEMA)
        return
    parquet = pq.ParquetFile(path)
    stored_hash = (parquet.schema_arrow.metadata or {}).get(b"feature_schema_hash", b"").decode()
    try:
        stored = schema_of(stored_hash)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}; run `fraudstream data features` again") from exc
    if schema is not None and stored != schema:
        with_or_without = "with" if stored.account_features else "without"
        raise ValueError(
            f"{path} holds features {with_or_without} account features, the model takes "
            f"the other schema; run `fraudstream data features` with the matching --accounts"
        )
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        table = pa.Table.from_batches([batch])
        features = np.column_stack([table.column(n).to_numpy() for n in stored.names])
        yield LabeledFeatures(
            features=features,
            step=table.column(STEP_COLUMN).to_numpy(),
            label=table.column(LABEL_COLUMN).to_numpy(),
            schema=stored,
        )


def load_labeled(path: Path, schema: FeatureSchema | None = None) -> LabeledFeatures:
    """All rows of a feature parquet or CSV in memory (features as float32)."""
    parts = list(iter_labeled(path, schema=schema))
    if not parts:
        raise ValueError(f"{path} holds no rows")
    return LabeledFeatures(
        features=np.concatenate([p.features.astype(np.float32) for p in parts]),
        step=np.concatenate([p.step for p in parts]),
        label=np.concatenate([p.label for p in parts]),
        schema=parts[0].schema,
    )
