"""The demo's processes, started in dependency order: feedback, learner, scorer, ingest, console."""

from __future__ import annotations

from fraudstream.cli.demo.build import Steps
from fraudstream.cli.demo.config import LiveConfig
from fraudstream.cli.demo.credentials import DemoCredentials
from fraudstream.cli.stack import ServiceHandle, Stack


def start_services(
    stack: Stack, steps: Steps, config: LiveConfig, env: dict[str, str], creds: DemoCredentials
) -> dict[str, ServiceHandle]:
    """Start the four services (scorers: `config.scorers` of them) and the analyst console;
    each is ready when this returns."""

    def start(
        name: str,
        *args: str,
        http_health: str | None = None,
        ports: tuple[int | None, int | None] | None = None,
        title: str = "",
    ) -> ServiceHandle:
        port, metrics_port = ports or config.ports(name)
        own = {**env, **creds.env(name), **_signing_env(config, name)}
        with steps.step(f"start the {title or name} service") as timer:
            service = stack.start_service(
                name,
                *args,
                port=port,
                metrics_port=metrics_port,
                env=own,
                transport=creds.transport(),
                http_health=http_health,
            )
            service.wait_serving(timeout=90)
            where = service.url if http_health else f"gRPC {service.address}"
            timer.note = f"{where}, metrics :{service.metrics_port}"
        return service

    feedback = start("feedback")
    learner = start("learner", "--feedback-addr", feedback.address)
    scorers = [
        start(
            *("scorer", "--learner-addr", learner.address),
            ports=config.scorer_ports(index),
            title="scorer" if config.scorers == 1 else f"scorer {index + 1}/{config.scorers}",
        )
        for index in range(config.scorers)
    ]
    addresses = ",".join(scorer.address for scorer in scorers)
    ingest = start(
        "ingest",
        "--scorer-addr",
        addresses,
        "--feedback-addr",
        feedback.address,
        "--account-features",
        config.account_features,
    )
    console = start(
        "console",
        "--feedback-addr",
        feedback.address,
        "--learner-addr",
        learner.address,
        http_health="/healthz",
    )
    # The first scorer is "scorer" (the one the view and summary probe), then scorer-2, ...
    named = {"scorer" if i == 0 else f"scorer-{i + 1}": s for i, s in enumerate(scorers)}
    return {"feedback": feedback, "learner": learner, **named, "ingest": ingest, "console": console}


def _signing_env(config: LiveConfig, service: str) -> dict[str, str]:
    """Scorers and the learner trust only the demo's signing key; the learner signs with it."""
    signing = config.signing
    if signing is None or service not in ("scorer", "learner"):
        return {}
    found = {"FRAUDSTREAM_MODEL_VERIFY_KEYS": str(signing.public)}
    if service == "learner":
        found["FRAUDSTREAM_MODEL_SIGNING_KEY"] = str(signing.private)
    return found
