"""Loads the bundle at start, retrying until it is there and valid; flips health when it is."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from fraudstream.scorer.metrics import ScorerMetrics
from fraudstream.scorer.serving_model import (
    ModelHolder,
    ModelLoadError,
    ServingModel,
    load_serving_model,
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
    while not stop.is_set():
        try:
            # The persisted snapshot is restored before SERVING, through the same checks as
            # a pushed one, so a restart never serves the bundle's original model meanwhile.
            model = holder.restored(load_serving_model(directory, holder.verifier))
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
        return
