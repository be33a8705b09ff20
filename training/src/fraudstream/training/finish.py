"""After `train` writes a bundle: sign it, and build its engines ahead of any scorer."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from fraudstream.model.bundle import load_bundle
from fraudstream.model.compiled import ENGINE_ENV, NUMPY, compile_forest
from fraudstream.model.ensemble import ensemble_from_bundle
from fraudstream.model.signing import BUNDLE_SIGNATURE_NAME, Signer

logger = logging.getLogger(__name__)


def sign_or_unsign(directory: Path, signer: Signer | None) -> Path | None:
    """Write `manifest.sig` for the bundle's manifest with `signer`; without one, remove a
    signature left from an earlier run (it no longer matches, and would read as tampering)."""
    if signer is not None:
        path = signer.sign_bundle(directory)
        logger.info("signed the bundle with key %s: %s", signer.key_id, path)
        return path
    stale = directory / BUNDLE_SIGNATURE_NAME
    if stale.exists():
        stale.unlink()
        logger.warning("removed %s of the previous bundle: this one is not signed", stale)
    else:
        logger.warning("the bundle is not signed (no --signing-key)")
    return None


def warm_compiled_forest(forest: Any) -> bool:
    """Build (or find) the compiled library of the bundle's isolation forest in this user's
    engine cache, so the first scorer start loads it in ~0.1 s instead of compiling for
    5-15 s. Any failure (no treelite, no C compiler) is said and training goes on."""
    if forest is None or os.environ.get(ENGINE_ENV, "").lower() == NUMPY:
        return False
    started = time.perf_counter()
    try:
        compiled = compile_forest(forest)
    except Exception as exc:  # whatever the toolchain raises, the bundle is already good
        logger.warning(
            "the isolation forest was not compiled ahead (%s: %s); scorers compile it on "
            "their first start or score with numpy",
            type(exc).__name__,
            exc,
        )
        return False
    logger.info(
        "compiled forest ready in %.1f s: %s", time.perf_counter() - started, compiled.library
    )
    return True


def warm_engine_cache(directory: Path) -> bool:
    """Write the bundle's detector engines (numpy arrays, and the compiled forest's name) to
    this user's engine cache, so even the first scorer or learner start with this bundle is a
    warm one: no unpickling, no scikit-learn import. Any failure is said and training goes on
    (the first start then converts the artifacts itself)."""
    started = time.perf_counter()
    try:
        ensemble_from_bundle(load_bundle(directory, lazy=True))
    except Exception as exc:  # the bundle is already written and good; this is only a cache
        logger.warning(
            "the engine cache was not warmed (%s: %s); the first start converts the artifacts",
            type(exc).__name__,
            exc,
        )
        return False
    logger.info("engine cache warm in %.1f s", time.perf_counter() - started)
    return True
