"""Typed settings read from flags and FRAUDSTREAM_* environment variables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["CommaList", "ServiceSettings", "parse_settings"]


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# A list given as "a,b,c" in an environment variable or flag.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]


class ServiceSettings(BaseSettings):
    """Settings every fraudstream service has. Flags override environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="FRAUDSTREAM_",
        cli_kebab_case=True,
        cli_implicit_flags=True,
        cli_hide_none_type=True,
        extra="ignore",
    )

    host: str = Field(
        "127.0.0.1",
        description="Address the gRPC and metrics servers bind to (0.0.0.0 in containers).",
    )
    port: int = Field(0, ge=0, le=65535, description="gRPC port (0: any free port).")
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Prometheus /metrics port (0: any free port)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest log level written to stderr."
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line; text: for a terminal."
    )
    grace_seconds: float = Field(
        10.0, gt=0, description="On SIGTERM, how long in-flight RPCs may take to finish."
    )
    max_workers: int = Field(16, ge=2, description="Threads serving gRPC requests.")
    max_streams: int = Field(
        0,
        ge=0,
        description="Long-lived streams served at once; more are refused (RESOURCE_EXHAUSTED) "
        "so health and unary calls keep threads (0: a quarter of --max-workers, at least 2, "
        "stays free).",
    )
    max_message_bytes: int = Field(
        4 * 1024 * 1024, ge=64 * 1024, description="Largest gRPC message received or sent."
    )
    tls_cert: Path | None = Field(
        None, description="This process's certificate (PEM); with key and CA: mutual TLS."
    )
    tls_key: Path | None = Field(None, description="The private key of --tls-cert (PEM).")
    tls_ca: Path | None = Field(
        None, description="CA certificate (PEM) that signs every peer's certificate."
    )
    analyst_tokens_file: Path | None = Field(
        None,
        description="Tokens file: one '<name> <roles> sha256:<hex>' per line (roles: viewer, "
        "labeler, admin, service:<name>); `fraudstream tokens` writes it.",
    )
    service_token: str = Field(
        "",
        description="This service's own bearer token, sent on every call it makes (plaintext "
        "setups; with mutual TLS its certificate names it).",
    )
    insecure_allow_anonymous: bool = Field(
        False,
        description="Development only: admit callers without a certificate or token. Without "
        "it, a service with neither TLS nor tokens refuses every data RPC.",
    )

    def stream_limit(self) -> int:
        """How many long-lived streams may be open at once (always below --max-workers)."""
        reserve = max(2, self.max_workers // 4)
        limit = self.max_streams or self.max_workers - reserve
        return max(1, min(limit, self.max_workers - 1))


S = TypeVar("S", bound=BaseSettings)


def parse_settings(cls: type[S], argv: list[str] | None, prog: str) -> S:
    """Build settings from argv and the environment; exit with status 2 on bad values."""
    try:
        return cls(_cli_parse_args=list(argv or []), _cli_prog_name=prog)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = [f"{prog}: invalid settings:"]
        for error in exc.errors():
            name = "--" + "-".join(str(part) for part in error["loc"]).replace("_", "-")
            lines.append(f"  {name}: {error['msg']} (got {error.get('input')!r})")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
