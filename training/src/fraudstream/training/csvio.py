"""Reading and writing PaySim CSV files in chunks (fast, bounded memory)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fraudstream.model.paysim import PAYSIM_COLUMNS, PAYSIM_DTYPES, PAYSIM_HEADER

logger = logging.getLogger(__name__)

_FLOAT_COLUMNS = ("amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest")


def write_paysim_header(sink: BinaryIO) -> None:
    """Write the Kaggle header line."""
    sink.write((PAYSIM_HEADER + "\n").encode("ascii"))


def _float_text(values: pa.Array) -> pa.Array:
    # Python's repr of a float, as the Kaggle file has it: "0.0", "10000000.0", "181147.11".
    text = pc.cast(values, pa.string())
    return pc.if_else(
        pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".0", "")
    )


def write_paysim_chunk(sink: BinaryIO, chunk: pd.DataFrame) -> None:
    """Append rows (PaySim columns, any order of construction) without a header."""
    columns = {}
    for name in PAYSIM_COLUMNS:
        array = pa.array(chunk[name])
        columns[name] = _float_text(array) if name in _FLOAT_COLUMNS else array
    table = pa.table(columns)
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))


def read_paysim_chunks(path: Path, chunk_rows: int = 500_000) -> Iterator[pd.DataFrame]:
    """Yield DataFrame chunks of a PaySim CSV (plain or .gz) with PaySim's dtypes."""
    reader = pd.read_csv(
        path,
        dtype=PAYSIM_DTYPES,  # type: ignore[arg-type]
        usecols=list(PAYSIM_COLUMNS),
        chunksize=chunk_rows,
        engine="c",
    )
    with reader:
        yield from reader
