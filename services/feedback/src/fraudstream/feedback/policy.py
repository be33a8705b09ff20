"""Who may call each FeedbackService RPC (docs/security.md has the table for every service)."""

from __future__ import annotations

from fraudstream.common.auth import LABELER, VIEWER, service_role

POLICY: dict[str, frozenset[str]] = {
    # Alerts come from the bridge only; labels leave for the learner only.
    "ReportAlerts": frozenset({service_role("ingest")}),
    "StreamLabels": frozenset({service_role("learner")}),
    "Review": frozenset({LABELER}),
    "SubmitLabel": frozenset({LABELER}),
    "ListAlerts": frozenset({VIEWER}),
}
# The RPCs that record a verdict: refusals of these are counted per RPC.
LABELING_RPCS = frozenset({"Review", "SubmitLabel"})
