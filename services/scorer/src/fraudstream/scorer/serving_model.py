"""The model being served: loaded from the bundle, swapped atomically when a snapshot arrives."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from fraudstream.model.bundle import Bundle, BundleError, load_bundle
from fraudstream.model.compiled import ForestScorer
from fraudstream.model.ensemble import Ensemble, ensemble_from_bundle
from fraudstream.model.linear import LinearModel
from fraudstream.model.scores import Thresholds
from fraudstream.model.signing import Verifier
from fraudstream.model.snapshot import (
    SnapshotRejected,
    check_snapshot,
    linear_from_snapshot,
    thresholds_from_snapshot,
)
from fraudstream.scorer.applied import AppliedSnapshots
from fraudstream.v1.model_pb2 import SNAPSHOT_ROLE_CHALLENGER, ModelSnapshot

logger = logging.getLogger(__name__)


class ModelLoadError(Exception):
    """The bundle cannot be served (missing, incomplete, or an artifact fails its checksum)."""


@dataclass(frozen=True)
class ServingModel:
    """One immutable model state; a batch keeps the one it started with."""

    ensemble: Ensemble
    bundle_version: str
    bundle_created: datetime | None
    snapshot_version: int
    loaded_at: datetime
    # The served snapshot's checksum (empty: the bundle's own model); the hello carries it.
    snapshot_checksum: str = ""

    @property
    def model_version(self) -> str:
        """What scores carry: the bundle and the online snapshot applied on top of it."""
        return f"{self.bundle_version}+s{self.snapshot_version}"


@dataclass(frozen=True)
class ShadowModel:
    """The learner's current challenger: scored beside the serving model, deciding nothing."""

    classifier: LinearModel
    thresholds: Thresholds
    bundle_version: str
    snapshot_version: int
    label_position: int
    checksum: str = ""

    @property
    def model_version(self) -> str:
        """What scores carry as challenger_version: the bundle, the version it would be
        promoted as, and the last label it learned from."""
        return f"{self.bundle_version}+c{self.snapshot_version}.{self.label_position}"


def load_serving_model(
    directory: Path, verifier: Verifier | None = None, forest: str | None = None
) -> ServingModel:
    """Load and verify the bundle in `directory`; with a `verifier`, its `manifest.sig` must
    be a trusted key's signature of its manifest (checked before any artifact is read).
    `forest`: the forest engine (compiled.py). Artifacts are unpickled only when the engine
    cache does not hold their engines yet."""
    return serving_model(checked_bundle(directory, verifier), forest)


def checked_bundle(directory: Path, verifier: Verifier | None = None) -> Bundle:
    """The bundle in `directory`, every checksum (and, with `verifier`, the signature) checked;
    its artifacts are unpickled when first used."""
    try:
        check = verifier.verify_bundle if verifier is not None else None
        return load_bundle(directory, check, lazy=True)
    except (BundleError, OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load the model bundle in {directory}: {exc}") from exc


def serving_model(bundle: Bundle, forest: str | None = None) -> ServingModel:
    """The bundle's own model, ready to serve (`forest`: the forest engine)."""
    try:
        ensemble = ensemble_from_bundle(bundle, forest)
    except (BundleError, OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load the model bundle in {bundle.directory}: {exc}") from exc
    created = bundle.manifest.get("created_time")
    return ServingModel(
        ensemble=ensemble,
        bundle_version=bundle.version,
        bundle_created=datetime.fromisoformat(created) if isinstance(created, str) else None,
        snapshot_version=0,
        loaded_at=datetime.now(UTC),
    )


def with_snapshot(
    current: ServingModel,
    snapshot: ModelSnapshot,
    verifier: Verifier | None,
    *,
    replaces_served: bool = False,
) -> ServingModel:
    """`current` serving `snapshot`, or SnapshotRejected saying why it must not serve.

    Versions only go forward, which refuses stale replays, unless `replaces_served`: the
    learner's answer to this scorer's hello, which replaces whatever is served (the learner is
    authoritative on its stream, so a bogus high version cannot stick). Every other check
    (checksum, signature, lineage, schema, numbers) holds either way.
    """
    classifier = current.ensemble.classifier
    if classifier is None:
        raise SnapshotRejected("the loaded bundle has no classifier to update")
    if not replaces_served and snapshot.version <= current.snapshot_version:
        raise SnapshotRejected(
            f"snapshot v{snapshot.version} is not newer than the served v{current.snapshot_version}"
        )
    if snapshot.bundle_version != current.bundle_version:
        raise SnapshotRejected(
            f"snapshot v{snapshot.version} was built on bundle {snapshot.bundle_version}, "
            f"this scorer serves bundle {current.bundle_version}"
        )
    check_snapshot(
        snapshot,
        feature_schema_hash=current.ensemble.feature_schema_hash,
        input_names=classifier.input_names,
        verifier=verifier,
    )
    return replace(
        current,
        ensemble=current.ensemble.with_classifier(
            linear_from_snapshot(snapshot), thresholds_from_snapshot(snapshot)
        ),
        snapshot_version=snapshot.version,
        snapshot_checksum=snapshot.checksum,
        loaded_at=datetime.now(UTC),
    )


class ModelHolder:
    """Holds the current ServingModel. Readers take `current` without locking; writers swap."""

    def __init__(
        self,
        model: ServingModel | None = None,
        verifier: Verifier | None = None,
        applied: AppliedSnapshots | None = None,
    ) -> None:
        # With a verifier, only bundles and snapshots a trusted model signing key signed serve.
        self.verifier = verifier
        # Where each applied snapshot is kept, to serve it again after a restart.
        self.applied = applied
        self._current = model
        self._swap_lock = threading.Lock()
        self._loaded = threading.Event()
        if model is not None:
            self._loaded.set()

    @property
    def current(self) -> ServingModel | None:
        return self._current

    def wait_loaded(self, timeout: float | None = None) -> bool:
        return self._loaded.wait(timeout)

    def set_model(self, model: ServingModel) -> None:
        with self._swap_lock:
            self._current = model
            self._loaded.set()

    def replace_forest(self, bundle_version: str, forest: ForestScorer) -> bool:
        """Score the isolation forest with `forest` from now on (an engine with the same
        scores, say the compiled one once loaded), whatever snapshot is served; False when
        the served model is of another bundle or has no forest."""
        with self._swap_lock:
            current = self._current
            detector = current.ensemble.isolation_forest if current is not None else None
            if current is None or detector is None or current.bundle_version != bundle_version:
                return False
            ensemble = replace(current.ensemble, isolation_forest=replace(detector, model=forest))
            self._current = replace(current, ensemble=ensemble)
            return True

    def apply_snapshot(
        self, snapshot: ModelSnapshot, *, replaces_served: bool = False
    ) -> ServingModel:
        """Swap in `snapshot` (and persist it), or raise SnapshotRejected and keep serving the
        current model. `replaces_served`: see `with_snapshot`."""
        with self._swap_lock:
            current = self._current
            if current is None:
                raise SnapshotRejected("no bundle is loaded yet")
            updated = with_snapshot(
                current, snapshot, self.verifier, replaces_served=replaces_served
            )
            self._current = updated
            if self.applied is not None:
                # Under the lock: the file always holds the newest snapshot swapped in.
                try:
                    self.applied.save(snapshot)
                except OSError as exc:
                    logger.error(
                        "cannot persist snapshot v%d to %s (a restart would serve the bundle's "
                        "model until the learner pushes again): %s",
                        snapshot.version,
                        self.applied.path,
                        exc,
                    )
            return updated

    def restored(self, model: ServingModel) -> ServingModel:
        """`model` (the bundle just loaded) serving the persisted snapshot, if there is one that
        passes every check a pushed snapshot passes; `model` itself otherwise."""
        snapshot = self.applied.load() if self.applied is not None else None
        if snapshot is None:
            return model
        try:
            restored = with_snapshot(model, snapshot, self.verifier)
        except SnapshotRejected as exc:
            logger.warning("not serving the persisted snapshot v%d: %s", snapshot.version, exc)
            return model
        logger.info("serving the persisted snapshot v%d again", snapshot.version)
        return restored

    # The challenger, apart from the served model: it is swapped whole like the model, and no
    # path that serves decisions reads it (see `challenger` and the engine's shadow pass).
    _challenger: ShadowModel | None = None

    @property
    def challenger(self) -> ShadowModel | None:
        """The challenger to score in the shadow, while it is ahead of the served snapshot
        (a challenger promoted since, or overtaken by a newer champion, is not scored)."""
        challenger, current = self._challenger, self._current
        if challenger is None or current is None:
            return None
        if challenger.snapshot_version <= current.snapshot_version:
            return None
        return challenger

    def apply_challenger(self, snapshot: ModelSnapshot) -> ShadowModel:
        """Hold `snapshot` (role CHALLENGER) as the challenger, or raise SnapshotRejected and
        keep the one held. The same checks as a champion snapshot, signature included."""
        with self._swap_lock:
            current = self._current
            if snapshot.role != SNAPSHOT_ROLE_CHALLENGER:
                raise SnapshotRejected(f"snapshot v{snapshot.version} is not a challenger")
            if current is None or current.ensemble.classifier is None:
                raise SnapshotRejected("no classifier is served to compare a challenger with")
            if snapshot.bundle_version != current.bundle_version:
                raise SnapshotRejected(
                    f"challenger v{snapshot.version} was built on bundle "
                    f"{snapshot.bundle_version}, this scorer serves bundle {current.bundle_version}"
                )
            check_snapshot(
                snapshot,
                feature_schema_hash=current.ensemble.feature_schema_hash,
                input_names=current.ensemble.classifier.input_names,
                verifier=self.verifier,
            )
            held = self._challenger
            if held is not None and held.checksum == snapshot.checksum:
                return held  # sent again after a reconnect: already held
            if held is not None and (snapshot.version, snapshot.label_position) <= (
                held.snapshot_version,
                held.label_position,
            ):
                raise SnapshotRejected(
                    f"challenger {snapshot.version}.{snapshot.label_position} is not newer than "
                    f"the held {held.snapshot_version}.{held.label_position}"
                )
            challenger = ShadowModel(
                classifier=linear_from_snapshot(snapshot),
                thresholds=thresholds_from_snapshot(snapshot),
                bundle_version=snapshot.bundle_version,
                snapshot_version=snapshot.version,
                label_position=snapshot.label_position,
                checksum=snapshot.checksum,
            )
            self._challenger = challenger
            return challenger
