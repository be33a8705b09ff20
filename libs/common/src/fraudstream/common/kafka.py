"""librdkafka settings every Kafka client shares: bootstrap plus TLS/SASL from the environment.

`FRAUDSTREAM_KAFKA_SECURITY_*` variables map to librdkafka's own keys, so one set of variables
secures ingest, the feedback publisher, replay and the command-line readers alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSecurity(BaseSettings):
    """How clients reach a secured broker (all empty: plaintext, no authentication)."""

    model_config = SettingsConfigDict(env_prefix="FRAUDSTREAM_KAFKA_SECURITY_", extra="ignore")

    protocol: str = Field(
        default="", description="security.protocol: PLAINTEXT, SSL, SASL_SSL, ..."
    )
    ssl_ca: str = Field(
        default="", description="ssl.ca.location: CA certificate of the brokers (PEM)."
    )
    ssl_cert: str = Field(
        default="", description="ssl.certificate.location: client certificate (PEM)."
    )
    ssl_key: str = Field(default="", description="ssl.key.location: the client certificate's key.")
    sasl_mechanism: str = Field(default="", description="sasl.mechanism: PLAIN, SCRAM-SHA-512, ...")
    sasl_username: str = Field(default="", description="sasl.username.")
    sasl_password: SecretStr = Field(default=SecretStr(""), description="sasl.password.")

    @classmethod
    def plaintext(cls) -> KafkaSecurity:
        """No TLS and no SASL, whatever the environment says (a loopback listener for tooling)."""
        return cls.model_construct(protocol="PLAINTEXT")

    @classmethod
    def mutual_tls(cls, ca: str, cert: str, key: str) -> KafkaSecurity:
        """TLS with a client certificate, whatever the environment says."""
        return cls.model_construct(protocol="SSL", ssl_ca=ca, ssl_cert=cert, ssl_key=key)

    def librdkafka(self) -> dict[str, str]:
        """The librdkafka keys of the settings that are set."""
        given = {
            "security.protocol": self.protocol,
            "ssl.ca.location": self.ssl_ca,
            "ssl.certificate.location": self.ssl_cert,
            "ssl.key.location": self.ssl_key,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value(),
        }
        return {key: value for key, value in given.items() if value}


def kafka_config(
    bootstrap: str,
    options: Mapping[str, Any] | None = None,
    *,
    security: KafkaSecurity | None = None,
) -> dict[str, Any]:
    """A librdkafka configuration: `bootstrap`, the security settings (read from the
    environment unless given), then the client's own `options`."""
    found = security if security is not None else KafkaSecurity()
    return {"bootstrap.servers": bootstrap, **found.librdkafka(), **(options or {})}
