"""The status view's pure parts: InfluxDB rows into per-model figures, the alerts topic into open
incidents, and the rendered table; and its one-line error when InfluxDB is away."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import orjson
from rich.console import Console

from streams.commands.status import ConsumerLag, OpenIncidents, Status, fold_windows, render, to_json
from streams.settings import Settings

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))
W = 10_000
BASE = 1_767_348_000_000


def _row(measurement_field, t_ms, value, model="fraud", version="1", feature=None):
    row = {"model_id": model, "model_version": version, "_field": measurement_field, "_value": value,
           "_time": dt.datetime.fromtimestamp(t_ms / 1000, tz=dt.timezone.utc)}
    return row if feature is None else {**row, "feature": feature}


def test_last_window_rate_latency_and_the_features_drifting_in_it():
    stats = [_row("count", BASE + k * W, 1000 + k) for k in range(5)]
    stats += [_row("late_count", BASE + 4 * W, 2), _row("latency_p95_ms", BASE + 4 * W, 12.5)]
    stats += [_row("count", BASE, 50, model="churn", version="unversioned")]
    drift = [_row("drift", BASE + 4 * W, 1, feature="amount"), _row("severity", BASE + 4 * W, "major", feature="amount"),
             _row("drift", BASE + 4 * W, 0, feature="age"), _row("severity", BASE + 4 * W, "none", feature="age"),
             # drifting in an older window only (its last point): not drifting now
             _row("drift", BASE + 2 * W, 1, feature="country"),
             _row("drift", BASE, 1, model="churn", version="unversioned", feature="tenure")]
    models = fold_windows(stats, drift, default_window_ms=60_000)
    fraud = models[("fraud", "1")]
    assert (fraud.last_window_ms, fraud.count, fraud.late_count, fraud.latency_p95_ms) == (BASE + 4 * W, 1004, 2, 12.5)
    assert fraud.events_per_s == sum(1000 + k for k in range(5)) / 50  # 5 windows of 10 s, read off their spacing
    assert fraud.drifting == {"amount": "major"}
    churn = models[("churn", "unversioned")]
    assert churn.events_per_s == 50 / 60  # one window: the setting's length
    assert churn.drifting == {"tenure": "?"} and churn.latency_p95_ms is None


def _alert(feature, status, reason, family="drift", model="fraud", version="1", severity="minor", start=BASE):
    return orjson.dumps({"schema_version": 2, "model_id": model, "model_version": version, "feature": feature,
                         "statistic": "psi", "severity": severity, "status": status, "reason": reason,
                         "dedup_key": f"{model}/{version or '-'}/{feature}/{family}", "window_start_ms": start,
                         "incident_start_ms": start, "incident_start": "2026-01-02T10:00:00.000Z",
                         "windows_in_incident": 1})


def test_an_incident_is_open_while_its_last_event_fires():
    book = OpenIncidents(Settings())
    for raw in [_alert("amount", "firing", "opened"), _alert("amount", "firing", "escalated", severity="major"),
                _alert("age", "firing", "opened"), _alert("age", "resolved", "resolved"),
                _alert("f", "firing", "opened", family="missing_share", model="churn", version=""),
                _alert("prediction", "firing", "opened", family="adwin"),  # a one-off change, never resolved
                orjson.dumps({"alert_id": "x", "feature": "v1 alert without incident fields"}), b"not json", None]:
        book.apply(raw)
    found = book.by_model()
    assert {k: [(a["feature"], a["severity"]) for a in v] for k, v in found.items()} == {
        ("fraud", "1"): [("amount", "major")], ("churn", "unversioned"): [("f", "minor")]}


def test_rendered_table_and_json():
    models = fold_windows([_row("count", BASE, 4000), _row("latency_p95_ms", BASE, 18.8)],
                          [_row("drift", BASE, 1, feature="amount"), _row("severity", BASE, "major", feature="amount")],
                          W)
    book = OpenIncidents(Settings())
    book.apply(_alert("amount", "firing", "opened", severity="major"))
    models[("fraud", "1")].incidents = book.by_model()[("fraud", "1")]
    status = Status(BASE + W, list(models.values()), ConsumerLag("driftline-worker", "driftline.predictions",
                                                                 {0: 0, 1: 7, 2: None}))
    console = Console(width=160, record=True)
    console.print(render(status))
    text = console.export_text()
    assert "fraud" in text and "01-02 10:00:00" in text and "4000" in text and "400.0" in text and "18.8" in text
    assert "amount (major)" in text and "amount/drift major since 01-02 10:00:00" in text
    assert "7 message(s) (p1: 7)" in text
    out = to_json(status)
    assert out["models"][0]["drifting"] == [{"feature": "amount", "severity": "major"}]
    assert out["models"][0]["open_incidents"][0]["dedup_key"] == "fraud/1/amount/drift"
    assert out["consumer_lag"] == {"group": "driftline-worker", "topic": "driftline.predictions", "total": 7,
                                   "partitions": {"0": 0, "1": 7, "2": None}}


def test_influxdb_away_is_one_line_and_exit_two(tmp_path):
    env = {**os.environ, "DRIFTLINE_INFLUX_URL": "http://127.0.0.1:1", "DRIFTLINE_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    for args in ([], ["--json"], ["--watch", "--interval", "1"]):
        result = subprocess.run([DRIFTLINE, "status", *args], capture_output=True, text=True, env=env, cwd=tmp_path,
                                timeout=60)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "cannot reach InfluxDB at http://127.0.0.1:1" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    bad = subprocess.run([DRIFTLINE, "status", "--since", "soon"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=60)
    assert bad.returncode == 2 and "not a duration" in bad.stderr
