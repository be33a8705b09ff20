"""Topic administration on any Kafka broker: the pipeline's topics, their partitions, creation."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from fraudstream.common.kafka import KafkaSecurity, kafka_config
from fraudstream.common.names import TOPICS, TRANSACTIONS, TRANSACTIONS_SCORED

logger = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 4
# The topics that carry every transaction get `partitions` partitions so that
# several ingest bridges can share them; the low-volume ones keep one.
HIGH_VOLUME_TOPICS = (TRANSACTIONS, TRANSACTIONS_SCORED)


class TopicError(RuntimeError):
    """A topic could not be created; the message carries the broker's reason."""


def topic_partitions(partitions: int = DEFAULT_PARTITIONS) -> dict[str, int]:
    """The partition count of every pipeline topic for a given high-volume partition count."""
    return {topic: partitions if topic in HIGH_VOLUME_TOPICS else 1 for topic in TOPICS}


def _admin(bootstrap: str, security: KafkaSecurity | None) -> AdminClient:
    options: dict[str, Any] = {
        # librdkafka would otherwise print every refused connection to stderr.
        "logger": logging.getLogger("fraudstream.cli.librdkafka"),
    }
    return AdminClient(kafka_config(bootstrap, options, security=security))


def list_topics(
    bootstrap: str, timeout: float = 5.0, *, security: KafkaSecurity | None = None
) -> dict[str, int]:
    """Partition counts of the non-internal topics the broker at `bootstrap` has.

    `security` defaults to the FRAUDSTREAM_KAFKA_SECURITY_* environment, as for every client.
    """
    metadata = _admin(bootstrap, security).list_topics(timeout=timeout)
    return {
        name: len(topic.partitions)
        for name, topic in sorted(metadata.topics.items())
        if not name.startswith("__")
    }


def ensure_topics(
    bootstrap: str,
    partitions: Mapping[str, int] | None = None,
    replication: int = 1,
    timeout: float = 30.0,
    *,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Create the topics that are missing (the pipeline's by default) and return those created.

    Topics that exist are left as they are, whatever their partition count:
    shrinking is impossible and growing would move keys between partitions.
    """
    wanted = dict(partitions) if partitions is not None else topic_partitions()
    admin = _admin(bootstrap, security)
    existing = admin.list_topics(timeout=timeout).topics
    missing = [
        NewTopic(name, num_partitions=count, replication_factor=replication)
        for name, count in wanted.items()
        if name not in existing
    ]
    if not missing:
        return []
    created = []
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            # A concurrent `start` or fixture may have created it first.
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicError(f"could not create topic {name}: {exc.args[0].str()}") from exc
    return created
