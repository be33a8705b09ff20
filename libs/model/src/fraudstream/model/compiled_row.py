"""One row through a compiled forest's own `predict` function, with buffers made once.

tl2cgen's batch runtime builds a DMatrix, asks the output shape and allocates the output for
every call: about 60 us of set-up around the 5 us one row of trees takes. A Score call holds
one transaction, so the forest calls the library's `predict(union Entry*, int, double*)` for
it directly: the code that the runtime runs per row, hence the same margin to the bit
(tests/model/test_engine.py checks one row at a time against the batch path).

Only a library of the expected shape is called so: float64 thresholds and leaf outputs (an
`Entry` is then one double), one target, one class, the forest's feature count.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


class RowPredictor:
    """The mean path length of one row (pred_margin) from the library at `library`.

    Not thread-safe: its buffers are reused, so callers serialise calls (CompiledForest's lock).
    """

    def __init__(self, library: Path, n_features: int) -> None:
        lib = ctypes.CDLL(str(library))
        for name in ("get_threshold_type", "get_leaf_output_type"):
            getattr(lib, name).restype = ctypes.c_char_p
        lib.get_num_target.restype = ctypes.c_int32
        lib.get_num_feature.restype = ctypes.c_int32
        classes = ctypes.c_int32(0)
        lib.get_num_class(ctypes.byref(classes))
        shape = (
            lib.get_threshold_type(),
            lib.get_leaf_output_type(),
            lib.get_num_target(),
            classes.value,
            lib.get_num_feature(),
        )
        if shape != (b"float64", b"float64", 1, 1, n_features):
            raise ValueError(f"library {library.name} has another shape than expected: {shape}")
        self._predict = lib.predict
        self._predict.restype = None
        self._predict.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        self._row = np.zeros(n_features, dtype=np.float64)
        self._out = np.zeros(1, dtype=np.float64)
        self._row_address = self._row.ctypes.data
        self._out_address = self._out.ctypes.data

    def margin(self, row: np.ndarray) -> np.ndarray:
        """The margin of one row of finite float64 values, as a new array of one value.

        A non-finite value would be read as a number, where the runtime reads NaN as missing:
        such rows go through the batch path.
        """
        self._row[:] = row
        self._out[0] = 0.0  # the generated code adds the trees' outputs to it
        self._predict(self._row_address, 1, self._out_address)
        return self._out.copy()


def row_predictor(library: Path, n_features: int) -> RowPredictor | None:
    """A RowPredictor for `library`, or None (the batch path serves) when it cannot be one."""
    try:
        return RowPredictor(library, n_features)
    except (OSError, AttributeError, ValueError) as exc:
        logger.info("one-row path of %s not used (%s); the batch path serves", library.name, exc)
        return None
