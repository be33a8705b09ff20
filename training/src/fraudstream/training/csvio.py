"""Reading and writing PaySim CSV files in chunks (fast, bounded memory)."""

from __future__ import annotations

import logging
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fraudstream.model.paysim import PAYSIM_COLUMNS, PAYSIM_DTYPES, PAYSIM_HEADER

logger = logging.getLogger(__name__)

# What a truncated or corrupt file raises while it is read: gzip's EOFError (click turns an
# uncaught one into a bare "Aborted!"), BadGzipFile (an OSError), zlib.error, bad UTF-8.
READ_ERRORS = (EOFError, OSError, zlib.error, UnicodeDecodeError, pd.errors.ParserError)


class DataFileError(ValueError):
    """A data file cannot be read to its end; the message names the file and says why."""


def read_error(path: Path, exc: BaseException) -> DataFileError:
    """One line naming `path` and what is wrong with it."""
    if isinstance(exc, OSError) and exc.strerror:  # missing, unreadable: not the content
        why = exc.strerror
    elif isinstance(exc, EOFError):
        why = "the file ends too early (truncated download or copy?)"
    elif isinstance(exc, OSError | zlib.error):
        why = f"corrupt or not what its name says ({exc})"
    elif isinstance(exc, UnicodeDecodeError):
        why = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    else:
        why = f"malformed CSV ({str(exc).strip().splitlines()[-1]})"
    return DataFileError(f"{path}: cannot be read: {why}")


@contextmanager
def replaced_on_success(output: Path) -> Iterator[Path]:
    """A temporary path beside `output`, renamed over it only if the block succeeds.

    A writer that fails (bad input, full disk, Ctrl-C) leaves the previous
    `output` in place instead of a truncated or empty file. The pattern of
    fraudstream.common.files.atomic_write, for outputs written in a stream.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)


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
    """Yield DataFrame chunks of a PaySim CSV (plain or .gz) with PaySim's dtypes.

    DataFileError (a ValueError) when the file is truncated or corrupt.
    """
    try:
        reader = pd.read_csv(
            path,
            dtype=PAYSIM_DTYPES,  # type: ignore[arg-type]
            usecols=list(PAYSIM_COLUMNS),
            chunksize=chunk_rows,
            engine="c",
        )
        with reader:
            yield from reader
    except READ_ERRORS as exc:
        raise read_error(path, exc) from exc
