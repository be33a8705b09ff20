"""Loads the bundle at start, retrying until it is there and valid; flips health when it is.

Start-up work that can wait happens after SERVING: with the forest engine on auto, the scorer
serves first with the numpy forest (the same scores) and loads the compiled library after,
which spares the critical path treelite's import, the library's check and, on a cold engine
cache, its compilation (seconds).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from fraudstream.model.bundle import Bundle
from fraudstream.model.compiled import AUTO, NUMPY, engine_choice
from fraudstream.model.detectors import ISOLATION_FOREST
from fraudstream.model.engines import bundle_forest
from fraudstream.model.signing import Verifier
from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.serving_model import (
    ModelHolder,
    ModelLoadError,
    ServingModel,
    checked_bundle,
    serving_model,
)

logger = logging.getLogger(__name__)


def load_until_ready(
    directory: Path,
    holder: ModelHolder,
    metrics: ScorerMetrics,
    stop: threading.Event,
    retry_seconds: float,
    on_loaded: Callable[[ServingModel], None],
) -> None:
    """Try to load `directory` every `retry_seconds` until it loads or `stop` is set.

    A missing or damaged bundle is logged with its reason (once per distinct reason) and the
    scorer stays NOT_SERVING; fixing the bundle on disk is enough, no restart needed. With the
    holder's verifier, an unsigned or mis-signed bundle is refused the same way, before
    anything in it is unpickled. Once it loads, the persisted snapshot (if it passes every
    check) is applied before the model is handed over, so SERVING means serving it. Nothing
    a bundle holds ends this loop: an unexpected exception is retried like any other failure
    (its traceback logged once), so a loader thread never dies and leaves the scorer stuck.
    """
    last_error = ""
    choice = engine_choice()
    while not stop.is_set():
        try:
            bundle = checked_bundle(directory, holder.verifier)
            # The persisted snapshot is restored before SERVING, through the same checks as
            # a pushed one, so a restart never serves the bundle's original model meanwhile.
            model = holder.restored(serving_model(bundle, NUMPY if choice == AUTO else choice))
        except Exception as exc:
            unexpected = not isinstance(exc, ModelLoadError)
            error = str(exc)
            if unexpected:
                error = f"cannot load the model bundle in {directory}: {type(exc).__name__}: {exc}"
            if error != last_error:
                logger.error(
                    "%s; staying NOT_SERVING, retrying every %ss",
                    error,
                    retry_seconds,
                    exc_info=unexpected,
                )
                last_error = error
            stop.wait(retry_seconds)
            continue
        if stop.is_set():
            return
        holder.set_model(model)
        metrics.model_loaded.set(1)
        metrics.model_version.set(model.snapshot_version)
        metrics.model_loaded_timestamp.set(model.loaded_at.timestamp())
        logger.info(
            "loaded model bundle %s from %s, serving %s",
            model.bundle_version,
            directory,
            model.model_version,
        )
        on_loaded(model)
        if choice == AUTO:
            # Its own daemon thread: a stop never waits for a compilation (seconds when cold).
            threading.Thread(
                target=_compile_forest_after_ready,
                args=(bundle, holder),
                name="forest-compile",
                daemon=True,
            ).start()
        return


def _compile_forest_after_ready(bundle: Bundle, holder: ModelHolder) -> None:
    """Swap the compiled forest in (auto: numpy stays on any failure, which is logged)."""
    spec = bundle.manifest.get("detectors", {}).get(ISOLATION_FOREST)
    if spec is None:
        return
    try:
        forest = bundle_forest(bundle, spec["artifact"], AUTO)
    except Exception:  # auto promises numpy whenever compiling fails; never the loader's end
        logger.exception("isolation forest not compiled; scoring with numpy")
        return
    if holder.replace_forest(bundle.version, forest):
        logger.info("isolation forest now scored by %s", type(forest).__name__)


def model_verifier(keys: Sequence[str | Path]) -> Verifier | None:
    """A Verifier trusting the public keys at `keys` (PEM paths); None, with one warning, when
    none are given (SignatureError when a key cannot be loaded: a scorer must not start)."""
    if not keys:
        logger.warning(
            "model signatures are not checked (no model verify keys): any bundle and snapshot "
            "with a matching checksum is served"
        )
        return None
    verifier = Verifier.from_files(Path(key) for key in keys)
    logger.info("bundles and snapshots must be signed by key %s", ", ".join(verifier.key_ids))
    return verifier
