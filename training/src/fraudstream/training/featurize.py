"""`data features`: PaySim CSV -> feature parquet (features, step, label), chunk by chunk."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fraudstream.model.features import FEATURE_NAMES, FEATURE_SCHEMA_HASH, features_from_frame
from fraudstream.model.paysim import LABEL_COLUMN
from fraudstream.training.csvio import read_paysim_chunks, replaced_on_success
from fraudstream.training.progress import stderr_progress

logger = logging.getLogger(__name__)

STEP_COLUMN = "step"


@dataclass(frozen=True)
class LabeledFeatures:
    """Feature rows with their step and label (labels are -1 where the input had none)."""

    features: np.ndarray
    step: np.ndarray
    label: np.ndarray


def _schema() -> pa.Schema:
    fields = [pa.field(name, pa.float32()) for name in FEATURE_NAMES]
    fields += [pa.field(STEP_COLUMN, pa.int32()), pa.field(LABEL_COLUMN, pa.int8())]
    return pa.schema(fields, metadata={b"feature_schema_hash": FEATURE_SCHEMA_HASH.encode()})


def labeled_from_frame(frame: pd.DataFrame) -> LabeledFeatures:
    """Features, steps and labels of one PaySim chunk."""
    label = frame[LABEL_COLUMN] if LABEL_COLUMN in frame else pd.Series(-1, index=frame.index)
    return LabeledFeatures(
        features=features_from_frame(frame),
        step=frame[STEP_COLUMN].to_numpy(dtype=np.int32),
        label=label.to_numpy(dtype=np.int8),
    )


def write_features(
    source: Path, output: Path, chunk_rows: int = 500_000, quiet: bool = False
) -> int:
    """Write the feature parquet of a PaySim CSV; returns the row count.

    The parquet appears at `output` only when complete: a failure keeps the previous file.
    """
    rows = 0
    schema = _schema()
    with (
        replaced_on_success(output) as partial,
        pq.ParquetWriter(partial, schema, compression="zstd") as writer,
        stderr_progress(quiet) as bar,
    ):
        task = bar.add_task("features", total=None)
        for chunk in read_paysim_chunks(source, chunk_rows):
            part = labeled_from_frame(chunk)
            columns = {
                name: part.features[:, i].astype(np.float32) for i, name in enumerate(FEATURE_NAMES)
            }
            columns[STEP_COLUMN] = part.step
            columns[LABEL_COLUMN] = part.label
            writer.write_table(pa.table(columns, schema=schema))
            rows += len(chunk)
            bar.update(task, advance=len(chunk))
    logger.info("wrote %d feature rows to %s", rows, output)
    return rows


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in {".parquet", ".pq"}


def iter_labeled(path: Path, chunk_rows: int = 500_000) -> Iterator[LabeledFeatures]:
    """Labeled feature chunks of a feature parquet or of any PaySim-layout CSV (plain or .gz)."""
    if not _is_parquet(path):
        for chunk in read_paysim_chunks(path, chunk_rows):
            yield labeled_from_frame(chunk)
        return
    parquet = pq.ParquetFile(path)
    stored = (parquet.schema_arrow.metadata or {}).get(b"feature_schema_hash", b"").decode()
    if stored != FEATURE_SCHEMA_HASH:
        raise ValueError(
            f"{path} holds features of schema {stored or 'unknown'}, this code computes "
            f"{FEATURE_SCHEMA_HASH}; run `fraudstream data features` again"
        )
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        table = pa.Table.from_batches([batch])
        features = np.column_stack([table.column(n).to_numpy() for n in FEATURE_NAMES])
        yield LabeledFeatures(
            features=features,
            step=table.column(STEP_COLUMN).to_numpy(),
            label=table.column(LABEL_COLUMN).to_numpy(),
        )


def load_labeled(path: Path) -> LabeledFeatures:
    """All rows of a feature parquet or CSV in memory (features as float32)."""
    parts = list(iter_labeled(path))
    if not parts:
        raise ValueError(f"{path} holds no rows")
    return LabeledFeatures(
        features=np.concatenate([p.features.astype(np.float32) for p in parts]),
        step=np.concatenate([p.step for p in parts]),
        label=np.concatenate([p.label for p in parts]),
    )
