"""Who may call each ScoringService RPC (docs/security.md has the table for every service)."""

from __future__ import annotations

from fraudstream.common.auth import ADMIN, SERVICE_NAMES, VIEWER, service_role

EVERY_SERVICE = frozenset(service_role(name) for name in SERVICE_NAMES)

POLICY: dict[str, frozenset[str]] = {
    # The bridge scores the transaction stream; admins may drive it from tools (bench).
    "StreamScores": frozenset({service_role("ingest"), ADMIN}),
    "Score": frozenset({VIEWER, *EVERY_SERVICE}),
    "GetModelInfo": frozenset({VIEWER, *EVERY_SERVICE}),
}
