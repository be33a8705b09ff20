"""The compose file's Kafka TLS settings, run for real without a Docker engine.

The `certs` service's command provisions the credentials, the `kafka` service's environment is
turned into server.properties by the apache/kafka image's rule (KAFKA_SSL_CLIENT_AUTH ->
ssl.client.auth), and this repository's Kafka jars run it with container paths, names and
ports mapped to a temporary directory and loopback. Then the ingest service's own Kafka
settings produce and consume, the tools' client-tls.properties lists topics, and a certificate
from another CA is refused.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from fraudstream.cli.kafka.admin import ensure_topics, list_topics
from fraudstream.cli.kafka.config import jvm_options, log4j2_properties, read_properties
from fraudstream.cli.kafka.jars import KafkaJars, find_java
from fraudstream.common import certs
from fraudstream.common.kafka import KafkaSecurity, kafka_config
from fraudstream.model.signing import make_signing_key

pytestmark = pytest.mark.integration

SECURITY_ENV = "FRAUDSTREAM_KAFKA_SECURITY_"


def _image_property(variable: str) -> str:
    """The apache/kafka image's name rule: KAFKA_ dropped, `_` -> `.`, `__` -> `_`, `___` -> `-`."""
    name = re.sub(r"(?<=[^_])_(?=[^_])", ".", variable.removeprefix("KAFKA_"))
    return name.replace("___", "-").replace("__", "_").lower()


class _Local:
    """Maps the containers' paths, host names and ports to this machine."""

    def __init__(self, paths: dict[str, Path], ports: dict[int, int]) -> None:
        self.paths, self.ports = paths, ports

    def __call__(self, value: str) -> str:
        for container, local in self.paths.items():
            value = value.replace(container, str(local))
        value = re.sub(r"(?<=//)(?=:\d)|\b(kafka|localhost)(?=:\d)", "127.0.0.1", value)
        return re.sub(r":(\d+)\b", lambda m: f":{self.ports.get(int(m[1]), int(m[1]))}", value)


@pytest.fixture(scope="module")
def compose_services(deploy_dir: Path) -> dict:
    """The services as docker-compose renders them (variables from deploy/.env filled in)."""
    tool = shutil.which("docker-compose")
    assert tool is not None, "docker-compose is not installed (make deps installs it)"
    rendered = subprocess.run(
        [tool, "-f", str(deploy_dir / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return yaml.safe_load(rendered.stdout)["services"]


@pytest.fixture(scope="module")
def provisioned(compose_services: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The certs service's command, run here (without its file owners: no root needed)."""
    work = tmp_path_factory.mktemp("compose-certs")
    (work / "signing").mkdir()
    make_signing_key(work / "signing")  # on the host, as the compose file's header says
    command, skip = [], 0
    for arg in compose_services["certs"]["command"]:
        if arg in ("--owner", "--owner-for", "--tokens"):
            skip = 2
        if skip:
            skip -= 1
            continue
        for mount in ("/pki", "/out", "/signing"):
            arg = arg.replace(mount, str(work / mount.lstrip("/")))
        command.append(arg)
    result = subprocess.run(
        [sys.executable, "-m", "fraudstream.common.provision", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (work / "out" / "scorer" / "model-signing.pub").is_file()
    return work / "out"


@pytest.fixture(scope="module")
def compose_kafka(
    compose_services: dict,
    provisioned: Path,
    deploy_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    free_ports: Callable[[int], list[int]],
) -> Iterator[_Local]:
    """The compose kafka service as a local process; yields the path/port mapping."""
    work = tmp_path_factory.mktemp("compose-kafka")
    local = _Local(
        {"/certs": provisioned / "kafka", "/var/lib/kafka/data": work / "data"},
        dict(zip((19092, 19093, 9092), free_ports(3), strict=True)),
    )
    env = compose_services["kafka"]["environment"]
    props = {_image_property(k): local(str(v)) for k, v in env.items() if k.startswith("KAFKA_")}
    properties = work / "server.properties"
    properties.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
    (work / "log4j2.properties").write_text(log4j2_properties(work / "server.log"))
    java = [find_java(), *jvm_options("512m", work / "log4j2.properties")]
    java += ["-cp", KafkaJars.locate(deploy_dir).classpath]
    storage = ["kafka.tools.StorageTool", "format", f"--cluster-id={env['CLUSTER_ID']}"]
    subprocess.run(
        [*java, *storage, "--config", str(properties)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with (work / "console.out").open("wb") as console:
        broker = subprocess.Popen(
            [*java, "kafka.Kafka", str(properties)], stdout=console, stderr=subprocess.STDOUT
        )
    try:
        yield local
    finally:
        broker.terminate()
        broker.wait(timeout=30)


def _tools_security(deploy_dir: Path, local: _Local) -> KafkaSecurity:
    """client-tls.properties (the kafka-init and health-check settings) in librdkafka terms."""
    tools = read_properties(deploy_dir / "kafka" / "client-tls.properties")
    assert tools["security.protocol"] == "SSL"
    keystore = local(tools["ssl.keystore.location"])
    return KafkaSecurity.mutual_tls(local(tools["ssl.truststore.location"]), keystore, keystore)


def test_compose_kafka_admits_services_by_certificate_only(
    compose_kafka: _Local,
    compose_services: dict,
    provisioned: Path,
    deploy_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    internal = compose_kafka("kafka:19092")
    tools = _tools_security(deploy_dir, compose_kafka)
    deadline = time.monotonic() + 60
    while True:
        try:
            list_topics(internal, timeout=2, security=tools)
            break
        except KafkaException:
            assert time.monotonic() < deadline, "the compose broker did not answer in 60 s"
            time.sleep(0.5)
    topic = f"compose.tls.{uuid.uuid4().hex[:8]}"
    assert ensure_topics(internal, {topic: 1}, security=tools) == [topic]

    # The ingest service's own settings, with its volume where the container mounts it.
    ingest = _Local({"/certs": provisioned / "ingest"}, {})
    for name, value in compose_services["ingest"]["environment"].items():
        if name.startswith(SECURITY_ENV) or name == "FRAUDSTREAM_KAFKA_BOOTSTRAP":
            monkeypatch.setenv(name, compose_kafka(ingest(str(value))))
    producer = Producer(kafka_config(os.environ["FRAUDSTREAM_KAFKA_BOOTSTRAP"]))
    producer.produce(topic, value=b"from ingest")
    assert producer.flush(15) == 0
    consumer = Consumer(
        kafka_config(internal, {"group.id": "compose-tls", "auto.offset.reset": "earliest"})
    )
    consumer.subscribe([topic])
    messages = consumer.consume(num_messages=1, timeout=20)
    consumer.close()
    assert [m.value() for m in messages] == [b"from ingest"]

    stranger_ca = tmp_path / "stranger"
    certs.make_certificates(stranger_ca, ["ingest"])
    other = certs.paths(stranger_ca, "ingest")
    refused = KafkaSecurity.mutual_tls(
        str(provisioned / "ingest" / "ca.pem"), str(other.cert), str(other.key)
    )
    reports: list[KafkaError | None] = []
    stranger = Producer(kafka_config(internal, {"message.timeout.ms": 3000}, security=refused))
    stranger.produce(topic, value=b"stranger", on_delivery=lambda err, _msg: reports.append(err))
    stranger.flush(15)
    assert [err.code() if err else None for err in reports] == [KafkaError._MSG_TIMED_OUT]
