"""`driftline report` on the real stack: a worker writes a model's windows (f_num_a shifted for
two of them, so one incident opens and resolves), the command writes the HTML file, and headless
Chromium renders it: every chart is drawn, with the expected titles, the heatmap holds a cell per
feature and window with the drifting ones marked, and a screenshot is kept beside the test's files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.streams.commands.headless import Page
from tests.streams.commands.seeded import STACK_WORKER, WINDOW_MS, publish_stream
from tests.streams.stack_data import wait_until, window_fields

pytestmark = pytest.mark.stack

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))
SHIFTS = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # opened at window 2 (PSI major), resolved at 5
FEATURES = 4  # f_num_a, f_num_b, f_num_c, f_cat (tests/streams/stack_data.py)

# Null until the page is loaded and every chart's SVG has a size; then each chart's title, size and
# what is drawn in it.
CHARTS = """(() => {
  if (document.readyState !== 'complete') return null;
  const charts = [...document.querySelectorAll('figure.chart')].map(f => {
    const svg = f.querySelector('svg'), box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {title: f.querySelector('figcaption').textContent, width: box.width, height: box.height,
            cells: svg ? svg.querySelectorAll('g > title').length : 0,
            marks: svg ? svg.querySelectorAll('g > rect[height="4"]').length : 0,
            lines: svg ? svg.querySelectorAll('polyline').length : 0,
            bars: svg ? svg.querySelectorAll('rect > title').length : 0};
  });
  return charts.length && charts.every(c => c.width > 0 && c.height > 0) ? charts : null;
})()"""


def test_the_report_renders_in_chromium_with_every_chart(stack, start_worker, worker_env, tmp_path, figures):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"report-{prefix}"
    start_worker(**STACK_WORKER)
    base = publish_stream(stack, prefix, model, SHIFTS, seed=12)
    last = base + (len(SHIFTS) - 1) * WINDOW_MS
    span = (base // 1000 - 60, base // 1000 + 3600)
    assert wait_until(lambda: len({t for t, *_ in window_fields(stack, "feature_bins", model, *span)}) == len(SHIFTS),
                      90), "the worker wrote no feature_bins for every window"
    bins = window_fields(stack, "feature_bins", model, *span)
    assert (last, "f_num_a") in bins and (base, "f_cat") in bins
    assert wait_until(lambda: len(stack.read_topic(f"{prefix}.alerts", expect=2, timeout_s=10, settle_s=0)) >= 2, 60)

    out = tmp_path / "report.html"
    result = subprocess.run([DRIFTLINE, "report", "--model", model, "--since", "1h", "-o", str(out)],
                            capture_output=True, text=True, env=worker_env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: {len(SHIFTS)} window(s) since 1h, 1 distribution(s), 1 incident(s)" in result.stderr

    screenshot = tmp_path / "report.png"
    page = Page(out.as_uri(), tmp_path / "chromium")
    try:
        charts = page.wait_for(CHARTS, screenshot=screenshot)
    finally:
        page.close()
    assert charts is not None, "the report's charts did not render"
    assert [c["title"] for c in charts] == [
        "Events per window", "Latency per window", "Drift per feature (PSI)", "Distribution of f_num_a",
        "Missing values per window", "Out-of-range and unseen values per window", "Incidents"]
    by_title = {c["title"]: c for c in charts}
    heat = by_title["Drift per feature (PSI)"]
    assert (heat["cells"], heat["marks"]) == (FEATURES * len(SHIFTS), 2)  # the two shifted windows
    assert by_title["Events per window"]["lines"] == 1
    assert by_title["Distribution of f_num_a"]["bars"] == 3 * 10  # reference, worst, latest; ten deciles
    assert by_title["Missing values per window"]["lines"] == 1  # f_num_c: one value in 50 is missing
    assert by_title["Incidents"]["bars"] == 1
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
    figures(f"report: {len(charts)} charts rendered in headless Chromium; screenshot {screenshot}")
