"""The Grafana provisioning and the "Realtime Fraud Overview" dashboard hang together."""

from __future__ import annotations

import json
import re

# The panels issue 7 asks for, by title.
REQUIRED_PANELS = {
    "Throughput in and out",
    "Event latency p50 / p99",
    "Decisions",
    "Anomaly rate",
    "Dead letters",
    "Consumer lag",
    "Scorer batch size p50 / p99",
    "Scorer batch latency p50 / p99",
    "Model version per scorer",
    "Online updates and promotions",
    "Labels by verdict",
    "Prequential PR-AUC",
    "Review queue depth",
    # Shadow scoring and drift (issue 12).
    "Alert rate: champion vs challenger",
    "Champion risk distribution",
    "Risk p50 / p90 by model",
    "Risk PSI per scorer",
    "Label drift (alert precision)",
    "Challenger in the shadow",
}


def _dashboard(deploy_dir) -> dict:
    return json.loads((deploy_dir / "grafana/dashboards/realtime-fraud-overview.json").read_text())


def _panels(dashboard: dict) -> list[dict]:
    return [
        p
        for top in dashboard["panels"]
        for p in (top, *top.get("panels", []))
        if p["type"] != "row"
    ]


def test_dashboard_has_every_required_panel(deploy_dir):
    dashboard = _dashboard(deploy_dir)
    assert dashboard["title"] == "Realtime Fraud Overview"
    assert dashboard["uid"] == "fraudstream-overview"
    assert {p["title"] for p in _panels(dashboard)} >= REQUIRED_PANELS


def test_panels_are_unique_and_query_the_chosen_datasource(deploy_dir):
    dashboard = _dashboard(deploy_dir)
    panels = _panels(dashboard)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    (variable,) = dashboard["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        assert panel.get("description"), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].strip()


def test_rates_use_grafanas_rate_interval(deploy_dir):
    exprs = [t["expr"] for p in _panels(_dashboard(deploy_dir)) for t in p["targets"]]
    windows = re.findall(r"\[([^\]]+)\]", "\n".join(exprs))
    assert windows and set(windows) == {"$__rate_interval"}


def test_provisioning_points_at_prometheus_and_the_mounted_dashboards(deploy_dir):
    datasource = (deploy_dir / "grafana/provisioning/datasources/prometheus.yml").read_text()
    assert "url: http://prometheus:9090" in datasource
    assert "uid: prometheus" in datasource
    provider = (deploy_dir / "grafana/provisioning/dashboards/fraudstream.yml").read_text()
    assert "path: /var/lib/grafana/dashboards" in provider


def test_shadow_panels_compare_the_two_models_and_show_drift(deploy_dir):
    panels = {p["title"]: p for p in _panels(_dashboard(deploy_dir))}
    exprs = {title: [t["expr"] for t in p["targets"]] for title, p in panels.items()}
    (alert_rate,) = exprs["Alert rate: champion vs challenger"]
    assert "sum by (model)" in alert_rate and 'decision!="allow"' in alert_rate
    heatmap = panels["Champion risk distribution"]
    assert heatmap["type"] == "heatmap" and heatmap["targets"][0]["format"] == "heatmap"
    assert "scorer_risk_psi" in exprs["Risk PSI per scorer"][0]
    assert any(
        "learner_label_drift_events_total" in e for e in exprs["Label drift (alert precision)"]
    )
