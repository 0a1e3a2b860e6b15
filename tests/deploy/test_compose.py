"""docker-compose.yml and the Grafana provisioning stay valid (no Docker engine needed)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy import grafana

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_compose_file_validates():
    exe = shutil.which("docker-compose")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing: .ci/run installs Debian's docker-compose")
        pytest.skip("docker-compose not installed (apt-get install docker-compose)")
    result = subprocess.run([exe, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_grafana_dashboard_queries_the_documented_schema():
    dashboard = grafana.load()
    queries = " ".join(q.flux for q in grafana.queries(dashboard) if q.kind == "panel")
    for name in ("window_stats", "feature_drift", "latency_p99_ms", "psi", "missing_share", "late_count",
                 "\"ks\"", "\"drift\"", "data_quality", "prediction_drift"):
        assert name in queries, name
    # feature_bins: the per-bin shares issue 12 adds for the report and Grafana.
    for measurement in _documented_measurements() | {"feature_bins"}:
        assert any(measurement in grafana.measurements_named(q.flux) for q in grafana.queries(dashboard)
                   if q.kind == "panel"), f"no panel reads {measurement}"
    for measurement, fields in REQUIRED_FIELDS.items():
        missing = [f for f in fields if not grafana.covers(dashboard, measurement, f)]
        assert not missing, f"{measurement}: no panel shows {missing}"


# What each measurement's panels must show, from the README's InfluxDB table (and the fields it
# describes beside it: CBPE's estimated_* and the gap, the performance verdicts, feature_bins).
REQUIRED_FIELDS = {
    "window_stats": ["count", "late_count", "judged", "latency_mean_ms", "latency_p50_ms", "latency_p95_ms",
                     "latency_p99_ms", "latency_max_ms"],
    "feature_drift": ["psi", "missing_share", "ks", "ks_p", "js", "wasserstein", "wasserstein_std", "chi2", "chi2_p",
                      "drift", "severity"],
    "data_quality": ["count", "missing_share", "out_of_range_share", "unseen_share", "type_errors",
                     *(f"{s}_{suffix}" for s in ("missing_share", "out_of_range", "unseen_categories", "type_errors")
                       for suffix in ("severity", "q"))],
    "window_performance": ["accuracy", "precision", "recall", "f1", "auc", "gini", "ks", "macro_precision",
                           "macro_recall", "macro_f1", "rmse", "mae", "r2", "mse", "bias", "labeled_count",
                           "label_coverage", "label_lag_p50_s", "label_lag_p95_s", "orphan_labels", "duplicate_labels",
                           "estimated_accuracy", "estimated_precision", "estimated_recall", "estimated_f1",
                           "estimated_auc", "estimation_gap", "accuracy_drop_severity", "mae_rise_severity"],
    "prediction_drift": ["count", "psi", "ks", "js", "wasserstein_std", "missing_share"],
    "feature_bins": ["share", "reference_share"],
}


def _documented_measurements() -> set[str]:
    """The measurements of the README's InfluxDB table (first column of its rows)."""
    section = README.read_text().split("### InfluxDB", 1)[1].split("\n### ", 1)[0]
    found = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert {"window_stats", "feature_drift"} <= found, "the README's InfluxDB table was not found"
    return found


def test_grafana_dashboard_is_provisionable():
    """What Grafana 11 needs to load it: one datasource uid (the provisioned one) everywhere, unique
    panel ids inside the 24-column grid, tag-value variables, annotations whose mapped fields the
    query produces."""
    dashboard = grafana.load()
    uid = re.search(r"^\s*uid:\s*(\S+)", grafana.DATASOURCE.read_text(), re.M)[1]
    all_panels = dashboard["panels"] + [inner for row in dashboard["panels"] for inner in row.get("panels", [])]
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in all_panels:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        for source in [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]:
            assert source is None or source["uid"] == uid, panel["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    for name in ("model_id", "model_version", "feature"):
        assert "schema.tagValues(" in variables[name]["query"] and f'tag: "{name}"' in variables[name]["query"]
    annotations = [a for a in dashboard["annotations"]["list"] if "target" in a]
    assert {a["name"] for a in annotations} >= {"Drift verdicts", "Data-quality verdicts", "Performance verdicts"}
    for a in annotations:
        assert a["datasource"]["uid"] == uid
        for key, mapping in a["mappings"].items():
            assert mapping["source"] == "field" and mapping["value"] in a["target"]["query"], (a["name"], key)
