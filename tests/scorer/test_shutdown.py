"""SIGTERM stops a real scorer process gracefully in every state: no bundle, serving."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_sigterm_stops_a_scorer_that_has_no_bundle(start_service, tmp_path, free_ports):
    # The default learner address is kept (nothing listens there): the sync is configured
    # but never started, since no bundle ever loads.
    (learner_port,) = free_ports(1)
    scorer = start_service(
        "scorer",
        "--models",
        str(tmp_path / "no-bundle-here"),
        "--learner-addr",
        f"127.0.0.1:{learner_port}",
    )
    scorer.wait_for_log("NOT_SERVING")
    assert scorer.terminate(timeout=15) == 0
    assert "scorer stopped" in scorer.log()


def test_sigterm_stops_a_serving_scorer(start_service, model_bundle, free_ports):
    (learner_port,) = free_ports(1)
    scorer = start_service(
        "scorer",
        "--models",
        str(model_bundle),
        "--learner-addr",
        f"127.0.0.1:{learner_port}",
    )
    scorer.wait_until_serving()
    assert scorer.terminate(timeout=15) == 0
    assert "scorer stopped" in scorer.log()
