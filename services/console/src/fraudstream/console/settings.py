"""Settings of the analyst console (flags and FRAUDSTREAM_* environment variables)."""

from __future__ import annotations

from pydantic import Field

from fraudstream.common import names
from fraudstream.common.settings import CommaList, ServiceSettings


class ConsoleSettings(ServiceSettings):
    """Analyst console: HTTP pages over the feedback service and the learner."""

    port: int = Field(names.CONSOLE_PORT, ge=0, le=65535, description="HTTP port of the pages.")
    metrics_port: int = Field(
        names.CONSOLE_METRICS_PORT, ge=0, le=65535, description="Prometheus /metrics port."
    )
    feedback_addr: str = Field(
        names.FEEDBACK_ADDR, description="Feedback service address (cases, labels)."
    )
    learner_addr: str = Field(
        names.LEARNER_ADDR, description="Learner address (model status, rollback)."
    )
    analyst_tokens: CommaList = Field(
        default_factory=list,
        description="Bearer tokens given in clear as 'name:token' (local runs, as the feedback "
        "service takes them); each may label. The tokens file gives roles for the rest.",
    )
    session_idle_minutes: float = Field(
        30.0, gt=0, description="A session unused this long is signed out."
    )
    session_max_hours: float = Field(
        12.0, gt=0, description="A session is signed out this long after sign-in, used or not."
    )
    cookie_secure: bool = Field(
        False,
        description="Mark the session cookie Secure (set it when a TLS proxy fronts the console).",
    )
    max_workers: int = Field(8, ge=1, description="Threads serving HTTP requests.")
    service_token: str = Field(
        "",
        description="Not used by the console: each of its calls carries the signed-in "
        "analyst's own token.",
    )
    rpc_timeout_seconds: float = Field(
        5.0, gt=0, description="Deadline of each unary call to the feedback service or learner."
    )
    take_wait_seconds: float = Field(
        3.0, gt=0, description="How long 'take a case' waits for the feedback service to lease one."
    )
    poll_seconds: float = Field(
        5.0, gt=0, description="How often the pages refresh the live alert and queue counters."
    )
