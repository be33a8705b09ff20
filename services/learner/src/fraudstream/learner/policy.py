"""Who may call each LearnerService RPC (docs/security.md has the table for every service)."""

from __future__ import annotations

from fraudstream.common.auth import ADMIN, SERVICE_NAMES, VIEWER, service_role

POLICY: dict[str, frozenset[str]] = {
    # Snapshots go to scorers only: a model is what an attacker would most like to read.
    "SyncModels": frozenset({service_role("scorer")}),
    "GetLearnerStatus": frozenset({VIEWER, *(service_role(name) for name in SERVICE_NAMES)}),
    "Rollback": frozenset({ADMIN}),
}
