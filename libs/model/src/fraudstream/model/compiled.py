"""The Isolation Forest compiled to C by Treelite/tl2cgen, built and cached per model, exact.

Measured on the model's own rows (docs/performance.md) the compiled forest scores 2-4x more
rows per second than the numpy forest at every batch size the scorer sees. It is used when the
system C compiler can build it; otherwise the numpy forest (forest.py) serves, same scores.

A shared library runs native code when loaded, so only a library this process can trust is
loaded: the file name is the sha256 of the serialised trees (and of the tool versions and
flags), it lives in a cache directory that only this user can write (else a private temporary
directory), and it is renamed into place only once fully written. Before it serves, its scores
on probe rows are checked against the numpy forest.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import stat
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from fraudstream.model.compiled_row import row_predictor
from fraudstream.model.forest import CompactForest, average_path_length

if TYPE_CHECKING:  # imported by whoever unpickled the model; a warm start never needs it
    from sklearn.ensemble import IsolationForest

logger = logging.getLogger(__name__)

ENGINE_ENV = "FRAUDSTREAM_FOREST_ENGINE"
CACHE_ENV = "FRAUDSTREAM_ENGINE_CACHE"
NUMPY, COMPILED, AUTO = "numpy", "compiled", "auto"
# -O1 builds in a quarter of -O3's time (~5 s against ~20 s here) for ~20% fewer rows/s.
COMPILER_OPTIONS = ("-O1",)
_KEY_FORMAT = b"fraudstream-forest-1"
_PROBE_ROWS = 512
_ROW_PROBES = 64  # of them, also scored one at a time (the one-row path must equal the batch)
_TOLERANCE = 1e-9


class ForestScorer(Protocol):
    """What a forest engine offers: IsolationForest.score_samples for a batch."""

    def score_samples(self, x: NDArray[np.floating]) -> NDArray[np.float64]: ...


class CompiledForest:
    """IsolationForest.score_samples through a tl2cgen-compiled shared library."""

    def __init__(self, library: Path, n_features: int, max_samples: float, offset: float) -> None:
        import tl2cgen

        self._tl2cgen = tl2cgen
        # One thread: the scorer has one core to itself, a second thread only contends.
        self._predictor = tl2cgen.Predictor(str(library), nthread=1)
        self.library = library
        self.n_features = n_features
        self.offset = offset
        self._path_norm = float(average_path_length([max_samples])[0])
        # One transaction (a Score call) skips the runtime's per-call set-up: compiled_row.py.
        self._row = row_predictor(library, n_features)
        # The predictor's C state is not documented as safe for concurrent calls.
        self._lock = threading.Lock()

    def score_samples(self, x: NDArray[np.floating]) -> NDArray[np.float64]:
        """Equal to IsolationForest.score_samples: minus the anomaly score (lower = odder)."""
        # scikit-learn compares float32 inputs with float64 thresholds; so does this.
        values = np.asarray(x, dtype=np.float32).astype(np.float64)
        if values.ndim != 2 or values.shape[1] != self.n_features:
            raise ValueError(f"expected shape (n, {self.n_features}), got {values.shape}")
        if values.shape[0] == 0:
            return np.empty(0)
        # The margin is the mean path length; its 2^-x is done here in float64 because the
        # library's own post-processing uses a float32 c(n).
        if values.shape[0] == 1 and self._row is not None and np.isfinite(values).all():
            with self._lock:
                mean_path = self._row.margin(values[0])
        else:
            matrix = self._tl2cgen.DMatrix(values, dtype="float64")
            with self._lock:
                mean_path = self._predictor.predict(matrix, pred_margin=True).reshape(-1)
        return np.asarray(-(2.0 ** (-mean_path / self._path_norm)), dtype=np.float64)

    @property
    def one_row_path(self) -> bool:
        """Whether one row is scored through the library's own predict (compiled_row.py)."""
        return self._row is not None

    def check_one_row_path(self, rows: NDArray[np.floating]) -> None:
        """Drop the one-row path unless it scores `rows` one at a time exactly as the batch."""
        if self._row is None:
            return
        expected = self.score_samples(rows)
        one_by_one = np.concatenate([self.score_samples(rows[i : i + 1]) for i in range(len(rows))])
        if not np.array_equal(one_by_one, expected):
            logger.warning("%s: one row at a time differs from the batch; batch path only", self)
            self._row = None

    def decision_function(self, x: NDArray[np.floating]) -> NDArray[np.float64]:
        """Equal to IsolationForest.decision_function (negative = outlier)."""
        return self.score_samples(x) - self.offset


def engine_choice(engine: str | None = None) -> str:
    """`engine`, else $FRAUDSTREAM_FOREST_ENGINE, else auto: numpy, compiled or auto."""
    choice = (engine or os.environ.get(ENGINE_ENV) or AUTO).lower()
    if choice not in (NUMPY, COMPILED, AUTO):
        raise ValueError(f"unknown forest engine {choice!r}; use {NUMPY}, {COMPILED} or {AUTO}")
    return choice


def tool_versions() -> dict[str, str]:
    """Versions of treelite and tl2cgen (read without importing them; {} when absent)."""
    from importlib import metadata

    try:
        return {tool: metadata.version(tool) for tool in ("treelite", "tl2cgen")}
    except metadata.PackageNotFoundError:
        return {}


def forest_engine(model: IsolationForest, engine: str | None = None) -> ForestScorer:
    """The fastest exact scorer of `model` available: `engine` (or $FRAUDSTREAM_FOREST_ENGINE,
    default auto) picks numpy, compiled (failing loudly) or auto (compiled, else numpy)."""
    choice = engine_choice(engine)
    reference = CompactForest(model)
    if choice == NUMPY:
        return reference
    try:
        return compile_forest(model, reference)
    except Exception as exc:
        if choice == COMPILED:
            raise
        logger.warning("isolation forest not compiled (%s); scoring with numpy", exc)
        return reference


def compile_forest(
    model: IsolationForest, reference: CompactForest | None = None, cache: Path | None = None
) -> CompiledForest:
    """Load (or build, then cache) the compiled library of `model`, checked against numpy."""
    import treelite

    reference = reference or CompactForest(model)
    trees = treelite.sklearn.import_model(model)
    name = _library_name(trees)
    shape = (int(model.n_features_in_), float(model._max_samples), float(model.offset_))
    directory = _private_cache(cache)
    if directory is None:
        # No trustworthy cache: build into a private directory for this process only, removed
        # once loaded (the loaded library stays mapped).
        with tempfile.TemporaryDirectory(prefix="fraudstream-forest-") as private:
            library = Path(private) / name
            _build(trees, library)
            forest = CompiledForest(library, *shape)
    else:
        library = directory / name
        if not library.is_file():
            _build(trees, library)
        forest = CompiledForest(library, *shape)
    _check_against(forest, reference)
    return forest


def cached_library(
    name: str, reference: CompactForest, cache: Path | None = None
) -> CompiledForest | None:
    """The compiled library `name` from the private engine cache, checked against `reference`
    (its numpy forest), without scikit-learn or treelite's importer: how a warm start finds
    the library whose name an earlier start recorded. None when the file is not there."""
    if Path(name).name != name or not name.startswith("isolation_forest-"):
        raise ValueError(f"{name!r} is not a compiled forest's library name")
    directory = _private_cache(cache)
    if directory is None or not (directory / name).is_file():
        return None
    forest = CompiledForest(
        directory / name, reference.n_features, reference.max_samples, reference.offset
    )
    _check_against(forest, reference)
    return forest


def library_name(model: IsolationForest) -> str:
    """The file name of `model`'s compiled library: a digest of its trees and the tools."""
    import treelite

    return _library_name(treelite.sklearn.import_model(model))


def _library_name(trees: Any) -> str:
    import tl2cgen
    import treelite

    key = hashlib.sha256(_KEY_FORMAT)
    for part in (treelite.__version__, tl2cgen.__version__, *COMPILER_OPTIONS):
        key.update(part.encode() + b"\0")
    key.update(bytes(trees.serialize_bytes()))
    return f"isolation_forest-{key.hexdigest()[:40]}.so"


def _build(trees: Any, library: Path) -> None:
    """Compile into a temporary name next to `library`, then rename: readers never see a
    partial file, and concurrent builders of the same model each leave a whole one."""
    import tl2cgen

    started = time.perf_counter()
    partial = library.with_name(f".{library.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    # Treelite and tl2cgen print their C logs to stdout, where commands write their JSON
    # results, and warn that tl2cgen's bundled Treelite is older than the one that exported
    # the trees (harmless: the format is read); both go to this logger instead.
    build_log = io.StringIO()
    try:
        with contextlib.redirect_stdout(build_log), warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            tl2cgen.export_lib(
                trees,
                toolchain="gcc",
                libpath=str(partial),
                params={"parallel_comp": 1},
                nthread=1,
                options=list(COMPILER_OPTIONS),
            )
        os.replace(partial, library)
    finally:
        partial.unlink(missing_ok=True)
        for line in [build_log.getvalue().strip(), *(str(w.message) for w in said)]:
            if line:
                logger.debug("tl2cgen: %s", line)
    logger.info(
        "compiled the isolation forest in %.1f s: %s", time.perf_counter() - started, library
    )


def cache_directory() -> Path:
    """$FRAUDSTREAM_ENGINE_CACHE, else $XDG_CACHE_HOME (or ~/.cache) /fraudstream/engine."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fraudstream" / "engine"


def private_cache(cache: Path | None = None) -> Path | None:
    """The engine cache directory (`cache`, else `cache_directory()`) if it is this user's
    and nobody else can write it, else None (said once in the log)."""
    return _private_cache(cache)


def _private_cache(cache: Path | None) -> Path | None:
    """The cache directory if it is this user's and nobody else can write it, else None."""
    directory = cache or cache_directory()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as exc:
        logger.warning("engine cache %s unusable (%s)", directory, exc)
        return None
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        logger.warning("engine cache %s is writable by others; not using it", directory)
        return None
    return directory


def _check_against(forest: CompiledForest, reference: CompactForest) -> None:
    """Refuse a library whose scores differ from the numpy forest's on probe rows."""
    rng = np.random.default_rng(0)
    thresholds = reference.split_values()
    probe = np.empty((_PROBE_ROWS, reference.n_features))
    for column, values in enumerate(thresholds):
        spread = max(float(np.ptp(values)), 1.0) if values.size else 1.0
        low = float(values.min()) - spread if values.size else -1.0
        probe[:, column] = rng.uniform(low, low + 3 * spread, _PROBE_ROWS)
        if values.size:
            # Rows exactly on split values test the <= side of every comparison.
            exact = rng.choice(values, _PROBE_ROWS // 4)
            probe[: exact.size, column] = exact
    difference = np.max(np.abs(forest.score_samples(probe) - reference.score_samples(probe)))
    if not difference <= _TOLERANCE:
        raise RuntimeError(
            f"compiled forest {forest.library} differs from the numpy forest by {difference}"
        )
    forest.check_one_row_path(probe[:_ROW_PROBES])
