"""The report's pure parts on fixed data: incidents folded from alert events, the features whose
distributions are drawn, the rendered HTML (its charts, their titles and marks, no network
reference), and its one-line errors."""

import datetime as dt
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from streams.commands.report import render_report
from streams.commands.report_data import (Distribution, FeatureWindow, ReportData, ReportReader, WindowStats,
                                          fold_incidents, pick_distributions)
from streams.errors import DriftlineError
from streams.settings import Settings

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))
W = 60_000
BASE = 1_767_348_000_000
DRIFT_WINDOWS = range(8, 13)  # `amount` drifts in these windows of 20


class Parsed(HTMLParser):
    """Each chart's title with the SVG elements drawn in it; every tag and attribute seen."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.charts: list[dict] = []
        self.tags: list[tuple[str, dict]] = []
        self._caption = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "figure":
            self.charts.append({"title": "", "svg": 0, "elements": []})
        elif tag == "figcaption":
            self._caption = True
        elif self.charts and tag in ("svg", "rect", "polyline", "circle", "g"):
            self.charts[-1]["svg" if tag == "svg" else "elements"] += 1 if tag == "svg" else [(tag, attrs)]

    def handle_endtag(self, tag):
        self._caption = self._caption and tag != "figcaption"

    def handle_data(self, data):
        if self._caption:
            self.charts[-1]["title"] += data


def _alert(status, reason, start_w, w, severity="minor", value=0.3, feature="amount", family="drift",
           model="fraud"):
    return {"model_id": model, "model_version": "1", "feature": feature, "statistic": "psi", "value": value,
            "threshold": 0.2, "severity": severity, "status": status, "reason": reason,
            "dedup_key": f"{model}/1/{feature}/{family}", "window_start_ms": BASE + w * W,
            "window_end_ms": BASE + (w + 1) * W, "incident_start_ms": BASE + start_w * W,
            "windows_in_incident": w - start_w + 1}


def _data(features=("amount", "country", "age"), versions=("1",)) -> ReportData:
    windows = [WindowStats(v, BASE + w * W, 1000 + 10 * w, 3 if w == 5 else 0,
                           {"latency_p50_ms": 5.0, "latency_p95_ms": 12.0 + w, "latency_p99_ms": 20.0})
               for w in range(20) for v in versions]
    rows = []
    for v in versions:
        for w in range(20):
            for f in features:
                drift = f == "amount" and w in DRIFT_WINDOWS
                rows.append(FeatureWindow(v, f, BASE + w * W, 0.6 if drift else 0.01, drift,
                                          "major" if drift else "none",
                                          missing_share=0.02 if f == "age" else 0.0,
                                          out_of_range_share=None if f == "country" else 0.0,
                                          unseen_share=0.05 if f == "country" and w > 15 else
                                          (0.0 if f == "country" else None),
                                          quality_severity="minor" if f == "country" and w > 15 else "none"))
    events = [_alert("firing", "opened", 8, 8), _alert("firing", "escalated", 8, 9, "major", 0.9),
              _alert("resolved", "resolved", 8, 14, "major", 0.01),
              _alert("firing", "opened", 17, 17, feature="country", family="unseen_categories")]
    data = ReportData("fraud", BASE - 3_600_000, BASE + 20 * W, W, windows, rows,
                      incidents=fold_incidents(events, "fraud", BASE - 3_600_000, BASE + 20 * W))
    data.distributions = [Distribution(versions[0], "amount", ["< 1", "[1, 2)", ">= 2"], [0.3, 0.4, 0.3],
                                       {BASE + 10 * W: [0.1, 0.2, 0.7], BASE + 19 * W: [0.3, 0.4, 0.3]})]
    return data


def test_incidents_are_folded_per_opening_with_their_worst_severity_and_resolve():
    events = [_alert("firing", "opened", 2, 2), _alert("firing", "escalated", 2, 3, "major", 0.9),
              _alert("resolved", "resolved", 2, 6, "major", 0.01),
              _alert("firing", "opened", 10, 10, value=0.25),  # the same key opened again
              _alert("firing", "opened", 4, 4, model="churn"),  # another model's
              _alert("firing", "opened", 0, 0, feature="age"), _alert("resolved", "resolved", 0, 1, feature="age")]
    found = fold_incidents(events, "fraud", since_ms=BASE + 2 * W, until_ms=BASE + 20 * W)
    assert [(i.feature, i.opened_ms, i.resolved_ms, i.severity, i.peak, i.windows) for i in found] == [
        ("amount", BASE + 2 * W, BASE + 7 * W, "major", 0.9, 5),
        ("amount", BASE + 10 * W, None, "minor", 0.25, 1)]  # age's resolved before the range: left out
    assert found[0].family == "drift" and found[0].dedup_key == "fraud/1/amount/drift"


def test_the_drifting_features_are_drawn_with_their_worst_and_latest_windows():
    data = _data()
    assert pick_distributions(data.features) == [("1", "amount", [BASE + 8 * W, BASE + 19 * W])]
    calm = [f for f in data.features if not f.drift]
    (only,) = pick_distributions(calm)  # nothing drifted: the feature of highest PSI, still drawn
    assert only[1] in ("amount", "country", "age")


def test_the_report_has_its_charts_with_titles_and_marks():
    html = render_report(_data(), generated_ms=BASE + 21 * W)
    page = Parsed(html)
    titles = [c["title"] for c in page.charts]
    assert titles == ["Events per window", "Latency per window", "Drift per feature (PSI)", "Distribution of amount",
                      "Missing values per window", "Out-of-range and unseen values per window", "Incidents"]
    assert all(c["svg"] == 1 for c in page.charts)
    charts = {c["title"]: c["elements"] for c in page.charts}
    assert sum(tag == "polyline" for tag, _ in charts["Events per window"]) == 2  # events and late events
    assert sum(tag == "polyline" for tag, _ in charts["Latency per window"]) == 3  # p50, p95, p99
    heat = charts["Drift per feature (PSI)"]
    assert sum(tag == "g" for tag, _ in heat) == 3 * 20  # a cell per feature and window
    marks = [a for tag, a in heat if tag == "rect" and a.get("height") == "4" and a.get("fill") == "#000"]
    assert len(marks) == len(DRIFT_WINDOWS) + 1  # the drifting windows, and the legend's key
    bars = [a for tag, a in charts["Distribution of amount"] if tag == "rect" and a.get("width") != "12"]
    assert len(bars) == 3 * 3  # reference, window of highest PSI, latest; per bin
    assert "window of highest PSI 10:10:00 (PSI 0.600)" in html and "latest window 10:19:00" in html
    assert sum(tag == "polyline" for tag, _ in charts["Missing values per window"]) == 1  # only age has any
    assert sum(tag == "rect" and a.get("rx") == "3" for tag, a in charts["Incidents"]) == 2
    assert "amount/drift" in html and "country/unseen_categories" in html and ">open<" in html
    assert "21,900 events" in html  # the summary sums the counts


def test_the_report_is_self_contained():
    html = render_report(_data(), generated_ms=BASE)
    page = Parsed(html)
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe", "object")]
    refs = [v for _, attrs in page.tags for k, v in attrs.items() if k in ("href", "src") or "url(" in (v or "")]
    assert refs == []
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_text_from_the_data_is_escaped_and_versions_are_told_apart():
    html = render_report(_data(features=("<b>x</b>", "amount"), versions=("1", "2")), generated_ms=BASE)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt; @2" in html
    titles = [c["title"] for c in Parsed(html).charts]
    assert "Distribution of amount @1" in titles


def test_no_incidents_and_an_unreadable_alerts_topic_are_said_so():
    data = _data()
    data.incidents = []
    assert "no incidents in range" in render_report(data, BASE)
    data.incidents, data.incidents_problem = None, "Kafka at 127.0.0.1:1, reading driftline.alerts: timed out"
    html = render_report(data, BASE)
    assert "the alerts topic could not be read" in html and "Incidents unknown: Kafka at 127.0.0.1:1" in html
    assert [c["title"] for c in Parsed(html).charts][-1] == "Incidents"


class _FakeFlux:
    """InfluxDB's answers to the reader's queries, by what the query asks for."""

    bucket = '"driftline"'

    def __init__(self, last_window_ms=None, models=()):
        self.last, self.models = last_window_ms, models

    def rows(self, query):
        if "|> last()" in query:
            t = dt.datetime.fromtimestamp(self.last / 1000, tz=dt.timezone.utc) if self.last else None
            return [{"_time": t, "_value": 1}] if t else []
        if "schema.tagValues" in query:
            return [{"_value": m} for m in self.models]
        return []

    def close(self):
        pass


def _reader(fake) -> ReportReader:
    reader = ReportReader(Settings(_env_file=None), "fraud", BASE, BASE + 3_600_000)
    reader.influx = fake
    return reader


def test_an_unknown_model_and_an_empty_range_are_one_line_each():
    with pytest.raises(DriftlineError, match=r"^unknown model 'fraud': InfluxDB \(driftline\) has no windows of it "
                                             r"\(models with windows in the last 30 days: churn, credit\)$"):
        _reader(_FakeFlux(models=("credit", "churn"))).read()
    with pytest.raises(DriftlineError, match=r"^no windows of model 'fraud' between 2026-01-02 10:00:00 and 2026-01-02 "
                                             r"11:00:00 UTC \(its last window began 2026-01-01 .*--since\)$"):
        _reader(_FakeFlux(last_window_ms=BASE - 86_400_000)).read()


def test_influxdb_away_is_one_line_and_exit_two(tmp_path):
    env = {**os.environ, "DRIFTLINE_INFLUX_URL": "http://127.0.0.1:1", "DRIFTLINE_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = subprocess.run([DRIFTLINE, "report", "--model", "fraud", "-o", str(tmp_path / "r.html")],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: cannot reach InfluxDB at http://127.0.0.1:1")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "r.html").exists()


def test_a_long_range_puts_several_windows_in_one_heatmap_cell():
    windows = [WindowStats("1", BASE + w * W, 100, 0, {}) for w in range(1000)]
    rows = [FeatureWindow("1", "x", BASE + w * W, 0.9 if w == 500 else 0.01, w == 500, "major" if w == 500 else "none")
            for w in range(1000)]
    html = render_report(ReportData("m", BASE, BASE + 1000 * W, W, windows, rows, incidents=[]), BASE)
    (heat,) = [c for c in Parsed(html).charts if c["title"] == "Drift per feature (PSI)"]
    assert sum(tag == "g" for tag, _ in heat["elements"]) == 200  # cells of ceil(1000 / 240) = 5 windows
    assert "x 2026-01-02 18:20:00 (5 windows): psi 0.900, drift major" in html  # the cell holding window 500
    assert "Each cell covers 5 windows (their highest PSI)." in html
