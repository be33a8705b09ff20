"""Rows per second of each scoring engine on a bundle's own rows, against scikit-learn.

`measure` times every engine in the same run, interleaved repeat by repeat so machine load
hits all alike, and keeps the worst repeat. Run as a module to write the JSON and PNG report:
    python -m fraudstream.model.enginebench --models models --features features.parquet
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.model.bundle import Bundle, load_bundle
from fraudstream.model.compiled import COMPILER_OPTIONS, compile_forest
from fraudstream.model.detectors import AutoencoderDetector, IsolationForestDetector
from fraudstream.model.ensemble import Ensemble, ensemble_from_bundle
from fraudstream.model.features import FEATURE_NAMES
from fraudstream.model.forest import CompactForest

logger = logging.getLogger(__name__)

BATCH_SIZES = (1, 64, 512, 4096)
SKLEARN = "scikit-learn"
Scorer = Callable[[np.ndarray], Any]


def holdout_rows(bundle: Bundle, features: Path) -> np.ndarray:
    """The bundle's test rows (steps after its validation period) of a feature parquet."""
    import pandas as pd

    frame = pd.read_parquet(features, columns=[*FEATURE_NAMES, "step"])
    last = bundle.manifest["training_data"]["split"]["validation_last_step"]
    return frame.loc[frame["step"] > last, list(FEATURE_NAMES)].to_numpy(np.float64)


def sklearn_ensemble(bundle: Bundle) -> Ensemble:
    """The bundle's ensemble with its detectors scored by scikit-learn itself (the reference)."""
    fast = ensemble_from_bundle(bundle, "numpy")
    detectors = bundle.manifest["detectors"]
    forest, autoencoder = fast.isolation_forest, fast.autoencoder
    assert forest is not None and autoencoder is not None
    networks = bundle.artifacts[detectors["autoencoder"]["artifact"]]
    return replace(
        fast,
        isolation_forest=IsolationForestDetector(
            bundle.artifacts[detectors["isolation_forest"]["artifact"]],
            forest.columns,
            forest.score_map,
        ),
        autoencoder=AutoencoderDetector(
            networks["scaler"], networks["network"], autoencoder.columns, autoencoder.score_map
        ),
    )


def forest_scorers(bundle: Bundle, onnx: bool = True) -> dict[str, Scorer]:
    """score_samples of each forest engine available here (ONNX Runtime only if installed)."""
    model = bundle.artifacts[bundle.manifest["detectors"]["isolation_forest"]["artifact"]]
    scorers: dict[str, Scorer] = {
        SKLEARN: model.score_samples,
        "numpy": CompactForest(model).score_samples,
        "tl2cgen": compile_forest(model).score_samples,
    }
    if onnx:
        try:
            scorers["onnxruntime"] = _onnx_scorer(model)
        except ImportError:
            logger.info("onnxruntime/skl2onnx not installed; not measured")
    return scorers


def _onnx_scorer(model: Any) -> Scorer:
    import onnxruntime
    from skl2onnx import to_onnx

    # ai.onnx.ml 3: the newest TreeEnsemble opset skl2onnx writes for an IsolationForest.
    graph = to_onnx(
        model,
        np.zeros((1, model.n_features_in_), np.float32),
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(graph.SerializeToString(), options)
    name, offset = session.get_inputs()[0].name, float(model.offset_)

    def score(x: np.ndarray) -> np.ndarray:
        # Output 1 is decision_function (float32 only); score_samples adds back the offset.
        decision = session.run(None, {name: np.asarray(x, dtype=np.float32)})[1]
        return np.asarray(decision, dtype=np.float64).ravel() + offset

    return score


class _ScoreSamples:
    """A scoring function in the shape detectors call (`score_samples`)."""

    def __init__(self, score: Scorer) -> None:
        self.score_samples = score


def _rows_per_second(score: Scorer, batches: list[np.ndarray], min_seconds: float) -> float:
    done, calls, started = 0, 0, time.perf_counter()
    while True:
        batch = batches[calls % len(batches)]
        score(batch)
        done += batch.shape[0]
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed


def _timed(
    scorers: dict[str, Scorer],
    rows: np.ndarray,
    batch_sizes: Sequence[int],
    repeats: int,
    min_seconds: float,
) -> dict[str, dict[str, list[float]]]:
    """Rows/s of every repeat for each engine and batch size, engines interleaved."""
    rates: dict[str, dict[str, list[float]]] = {name: {} for name in scorers}
    for size in batch_sizes:
        starts = range(0, max(rows.shape[0] - size, 0) + 1, size)
        batches = [rows[s : s + size] for s in list(starts)[:64]]
        for score in scorers.values():
            score(batches[0])  # warm up: caches, lazily built buffers
        for _ in range(repeats):
            for name, score in scorers.items():
                rate = _rows_per_second(score, batches, min_seconds)
                rates[name].setdefault(str(size), []).append(rate)
    return rates


def _section(
    scorers: dict[str, Scorer],
    timed: dict[str, dict[str, list[float]]],
    rows: np.ndarray,
    value: Any,
) -> dict[str, Any]:
    """Per engine: worst and median rows/s, worst's ratio to scikit-learn's worst, and the
    largest difference of its scores from scikit-learn's on all `rows`."""
    worst = {name: {k: min(v) for k, v in sizes.items()} for name, sizes in timed.items()}
    reference = value(scorers[SKLEARN](rows))
    section: dict[str, Any] = {}
    for name, score in scorers.items():
        difference = np.max(np.abs(value(score(rows)) - reference), initial=0.0)
        section[name] = {
            "rows_per_second": worst[name],
            "median_rows_per_second": {k: float(np.median(v)) for k, v in timed[name].items()},
            "ratio_to_sklearn": {k: v / worst[SKLEARN][k] for k, v in worst[name].items()},
            "max_abs_difference_from_sklearn": float(difference),
        }
    return section


def measure(
    bundle: Bundle,
    rows: np.ndarray,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    repeats: int = 5,
    min_seconds: float = 0.25,
    onnx: bool = True,
) -> dict[str, Any]:
    """Rows/s (worst of `repeats`) of each forest engine and of the whole ensemble per engine."""
    forests = forest_scorers(bundle, onnx)
    reference, fused_numpy = sklearn_ensemble(bundle), ensemble_from_bundle(bundle, "numpy")
    assert fused_numpy.isolation_forest is not None
    forest_rows = rows[:, fused_numpy.isolation_forest.columns]
    ensembles: dict[str, Scorer] = {
        SKLEARN: reference.score,
        # What served before the fused engines: numpy forest, scikit-learn autoencoder.
        "numpy forest only": replace(
            reference, isolation_forest=fused_numpy.isolation_forest
        ).score,
        "fused numpy": fused_numpy.score,
        "fused tl2cgen": ensemble_from_bundle(bundle, "compiled").score,
    }
    if "onnxruntime" in forests:
        # ONNX Runtime runs the forest; the autoencoder and classifier stay fused numpy.
        onnx_forest = replace(
            fused_numpy.isolation_forest, model=_ScoreSamples(forests["onnxruntime"])
        )
        ensembles["fused onnxruntime"] = replace(fused_numpy, isolation_forest=onnx_forest).score
    with np.errstate(over="ignore"):
        forest_times = _timed(forests, forest_rows, batch_sizes, repeats, min_seconds)
        ensemble_times = _timed(ensembles, rows, batch_sizes, repeats, min_seconds)
        return {
            "bundle_version": bundle.version,
            "rows": int(rows.shape[0]),
            "batch_sizes": list(batch_sizes),
            "statistic": f"worst rows/s of {repeats} repeats of >= {min_seconds} s each",
            "isolation_forest": _section(forests, forest_times, forest_rows, lambda s: s),
            "ensemble": _section(ensembles, ensemble_times, rows, lambda s: s.risk),
            "environment": _environment(),
        }


def _environment() -> dict[str, Any]:
    import sklearn
    import tl2cgen
    import treelite

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "treelite": treelite.__version__,
        "tl2cgen": tl2cgen.__version__,
        "compiler_options": list(COMPILER_OPTIONS),
    }


def write_chart(result: dict[str, Any], path: Path) -> Path:
    """Rows/s by batch size, one panel for the forest and one for the ensemble (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for axis, key in zip(axes, ("isolation_forest", "ensemble"), strict=True):
        engines = result[key]
        sizes = [str(s) for s in result["batch_sizes"]]
        width = 0.8 / len(engines)
        for i, (name, numbers) in enumerate(engines.items()):
            heights = [numbers["rows_per_second"][s] for s in sizes]
            at = np.arange(len(sizes)) + i * width
            bars = axis.bar(at, heights, width, label=name)
            medians = [numbers["median_rows_per_second"][s] for s in sizes]
            axis.plot(at, medians, "_", color=bars.patches[0].get_facecolor(), markersize=12)
        axis.set_xticks(np.arange(len(sizes)) + 0.4 - width / 2, sizes)
        axis.set_yscale("log")
        axis.set_xlabel("batch size (rows)")
        axis.set_ylabel("rows/s: bar worst repeat, dash median")
        axis.set_title(key.replace("_", " "))
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def markdown_table(result: dict[str, Any], section: str) -> str:
    """One row per engine: worst rows/s (median, ratio to scikit-learn) per batch size."""
    sizes = [str(s) for s in result["batch_sizes"]]
    lines = [
        "| engine | " + " | ".join(f"batch {s}" for s in sizes) + " | max abs diff |",
        "|---" * (len(sizes) + 2) + "|",
    ]
    for name, numbers in result[section].items():
        cells = [
            f"{numbers['rows_per_second'][s]:,.0f} ({numbers['median_rows_per_second'][s]:,.0f};"
            f" {numbers['ratio_to_sklearn'][s]:.1f}x)"
            for s in sizes
        ]
        difference = numbers["max_abs_difference_from_sklearn"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {difference:.1e} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure a bundle on its test rows; write the JSON report and its chart."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("reports/engine_benchmark.json"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    bundle = load_bundle(args.models)
    result = measure(bundle, holdout_rows(bundle, args.features), repeats=args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    write_chart(result, args.out.with_suffix(".png"))
    for section in ("isolation_forest", "ensemble"):
        print(f"{section}:\n{markdown_table(result, section)}\n")


if __name__ == "__main__":
    main()
