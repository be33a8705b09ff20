"""The chart's signed models and Kafka mTLS: who gets which key, and each service's own
certificate for Kafka."""

from __future__ import annotations

from collections.abc import Callable

from .chart import CHART, WORKLOADS, Manifests, env_of, only_container, pod_spec, run_helm


def _secrets(manifests: Manifests, service: str) -> set[str]:
    return {
        v["secret"]["secretName"] for v in pod_spec(manifests, service)["volumes"] if "secret" in v
    }


def test_scorers_verify_and_only_the_learner_holds_the_private_key(
    render: Callable[..., Manifests],
) -> None:
    manifests = render("modelSigning.enabled=true")
    scorer, learner = (env_of(only_container(manifests, s)) for s in ("scorer", "learner"))
    assert scorer["FRAUDSTREAM_MODEL_VERIFY_KEYS"].endswith("/model-signing.pub")
    assert learner["FRAUDSTREAM_MODEL_VERIFY_KEYS"] == scorer["FRAUDSTREAM_MODEL_VERIFY_KEYS"]
    assert learner["FRAUDSTREAM_MODEL_SIGNING_KEY"].endswith("/model-signing.key")
    assert "fraudstream-model-signing-key" in _secrets(manifests, "learner")
    for service in set(WORKLOADS) - {"learner"}:
        assert "FRAUDSTREAM_MODEL_SIGNING_KEY" not in env_of(only_container(manifests, service))
        assert "fraudstream-model-signing-key" not in _secrets(manifests, service), service
    assert "FRAUDSTREAM_MODEL_VERIFY_KEYS" not in env_of(only_container(render(), "scorer"))


def test_kafka_tls_uses_each_services_own_certificate_and_needs_tls(
    render: Callable[..., Manifests],
    helm: str,
) -> None:
    manifests = render("tls.enabled=true", "kafka.tls.enabled=true")
    for service in WORKLOADS:
        env = env_of(only_container(manifests, service))
        assert env["FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SSL", service
        assert env["FRAUDSTREAM_KAFKA_SECURITY_SSL_CERT"] == env["FRAUDSTREAM_TLS_CERT"], service
        assert env["FRAUDSTREAM_KAFKA_SECURITY_SSL_KEY"] == env["FRAUDSTREAM_TLS_KEY"], service
    refused = run_helm(helm, "template", "x", str(CHART), "--set", "kafka.tls.enabled=true")
    assert refused.returncode != 0 and "set tls.enabled too" in refused.stderr
