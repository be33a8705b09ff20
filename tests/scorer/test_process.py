"""The scorer as a real process: grpcurl scores JSON; a damaged bundle keeps it NOT_SERVING."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from grpc_health.v1 import health_pb2

pytestmark = pytest.mark.integration


def test_grpcurl_scores_json(start_service, grpcurl, model_bundle):
    scorer = start_service("scorer", "--models", str(model_bundle), "--learner-addr", "")
    scorer.wait_until_serving()
    request = {
        "transactions": [
            {
                "event_id": "grpcurl-1",
                "step": 13,
                "type": "TRANSACTION_TYPE_TRANSFER",
                "amount": 2806009.72,
                "name_orig": "C1420196421",
                "old_balance_orig": 2806009.72,
                "new_balance_orig": 0,
                "name_dest": "C972765878",
                "old_balance_dest": 0,
                "new_balance_dest": 0,
            },
            {"event_id": "grpcurl-2", "type": "TRANSACTION_TYPE_PAYMENT", "amount": -1},
        ]
    }
    result = subprocess.run(
        [
            grpcurl,
            "-plaintext",
            "-H",
            scorer.bearer,
            "-d",
            json.dumps(request),
            scorer.address,
            "fraudstream.v1.ScoringService/Score",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)["scores"]
    assert [s["eventId"] for s in scores] == ["grpcurl-1", "grpcurl-2"]
    assert scores[0]["decision"] in ("DECISION_REVIEW", "DECISION_BLOCK")
    assert scores[0]["reasons"]
    assert scores[1]["error"]["field"] == "amount"


def test_damaged_bundle_stays_not_serving_with_a_clear_log(start_service, model_bundle, tmp_path):
    bundle = tmp_path / "damaged"
    shutil.copytree(model_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    artifact = sorted(manifest["artifacts"])[0]
    (bundle / artifact).write_bytes(b"not a model")
    scorer = start_service("scorer", "--models", str(bundle), "--learner-addr", "")
    scorer.wait_for_log(artifact)
    assert scorer.health() == health_pb2.HealthCheckResponse.NOT_SERVING
    assert "NOT_SERVING" in scorer.log()
