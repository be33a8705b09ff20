"""A bundle's detectors as the engines that score them, from the engine cache when it is warm.

Cold (first start with this bundle on this machine): the artifact is unpickled (importing
scikit-learn), converted, and the arrays written to the engine cache (warm.py) together with
the compiled forest's library name. Warm (every later start): the engines are rebuilt from
those arrays and the library is loaded by name and checked against the numpy forest on probe
rows; nothing is unpickled and scikit-learn is not imported. Scores are the same either way.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fraudstream.model.bundle import Bundle
from fraudstream.model.compiled import (
    COMPILED,
    NUMPY,
    CompiledForest,
    ForestScorer,
    cached_library,
    compile_forest,
    engine_choice,
    tool_versions,
)
from fraudstream.model.detectors import (
    AUTOENCODER,
    ISOLATION_FOREST,
    AutoencoderDetector,
    DenseAutoencoder,
    ScoreMap,
    columns_of,
)
from fraudstream.model.features import FEATURE_NAMES
from fraudstream.model.forest import CompactForest
from fraudstream.model.warm import EngineCache

logger = logging.getLogger(__name__)


def bundle_forest(
    bundle: Bundle, artifact: str, engine: str | None = None, cache: EngineCache | None = None
) -> ForestScorer:
    """The isolation forest `artifact` of `bundle` as `engine` (compiled_forest's choices)."""
    choice = engine_choice(engine)
    cache = cache or EngineCache.default()
    sha256 = bundle.sha256(artifact)
    reference, library = _cached_forest(cache, sha256)
    fresh = reference is None
    if reference is None:
        reference = CompactForest(bundle.artifacts[artifact])
    forest: ForestScorer = reference
    if choice != NUMPY:
        try:
            forest = _compiled(bundle, artifact, reference, library, cache.directory)
        except Exception as exc:
            if choice == COMPILED:
                raise
            logger.warning("isolation forest not compiled (%s); scoring with numpy", exc)
    built = forest.library.name if isinstance(forest, CompiledForest) else library
    if fresh or built != library:
        cache.save(
            ISOLATION_FOREST, sha256, reference.arrays(), {"library": built, **tool_versions()}
        )
    return forest


def _compiled(
    bundle: Bundle,
    artifact: str,
    reference: CompactForest,
    library: str | None,
    directory: Path | None,
) -> CompiledForest:
    """The library an earlier start recorded, else (or if it fails its checks) built anew."""
    if library:
        try:
            found = cached_library(library, reference, directory)
        except Exception as exc:
            logger.warning("the cached library %s is refused (%s); compiling again", library, exc)
        else:
            if found is not None:
                return found
    return compile_forest(bundle.artifacts[artifact], reference, directory)


def _cached_forest(cache: EngineCache, sha256: str) -> tuple[CompactForest | None, str | None]:
    stored = cache.load(ISOLATION_FOREST, sha256)
    if stored is None:
        return None, None
    arrays, meta = stored
    try:
        reference = CompactForest.from_arrays(arrays)
    except (ValueError, KeyError) as exc:
        logger.warning("ignoring the cached isolation forest %s: %s", sha256[:12], exc)
        return None, None
    # A library built by other treelite/tl2cgen versions is rebuilt (under a new name).
    same_tools = all(meta.get(tool) == version for tool, version in tool_versions().items())
    library = meta.get("library") if same_tools else None
    return reference, library if isinstance(library, str) else None


def bundle_autoencoder(
    bundle: Bundle,
    spec: dict[str, Any],
    cache: EngineCache | None = None,
    feature_names: tuple[str, ...] = FEATURE_NAMES,
) -> AutoencoderDetector | DenseAutoencoder:
    """The autoencoder of the manifest's `spec` in numpy (scikit-learn's when it has no numpy
    form); its inputs (columns of `feature_names`, the bundle's schema) and score map are the
    manifest's, its arrays the cache's when warm."""
    cache = cache or EngineCache.default()
    columns = columns_of(tuple(spec["inputs"]), feature_names)
    score_map = ScoreMap(**spec["score_map"])
    sha256 = bundle.sha256(spec["artifact"])
    stored = cache.load(AUTOENCODER, sha256)
    if stored is not None:
        try:
            return DenseAutoencoder.from_arrays(stored[0], columns, score_map)
        except (ValueError, KeyError) as exc:
            logger.warning("ignoring the cached autoencoder %s: %s", sha256[:12], exc)
    artifact = bundle.artifacts[spec["artifact"]]
    detector = AutoencoderDetector(artifact["scaler"], artifact["network"], columns, score_map)
    try:
        dense = DenseAutoencoder.from_detector(detector)
    except (ValueError, AttributeError) as exc:
        logger.warning("autoencoder scored by scikit-learn: %s", exc)
        return detector
    cache.save(AUTOENCODER, sha256, dense.arrays())
    return dense
