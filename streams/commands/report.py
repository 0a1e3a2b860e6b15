"""`driftline report`: one self-contained HTML file about one model over a stretch of time —
volume and latency per window, drift per feature over time (a heatmap), reference against recent
distributions of the drifting features, data quality and incidents.

The charts are inline SVG drawn in Python (svg_charts.py): no script, no stylesheet or font to
fetch, so the file opens offline, in a mail or as a CI artefact (a day of 60 s windows of a
30-feature model: about 1 MB). Its data comes from report_data.py; everything here is pure rendering.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path

from streams.commands.report_data import FeatureWindow, Incident, ReportData, ReportReader
from streams.commands.svg_charts import Bar, Cell, Series, grouped_bars, heatmap, line_chart, plot_left, timeline
from streams.commands.times import utc_text
from streams.errors import DriftlineError
from streams.settings import Settings

MAX_HEAT_COLUMNS = 240  # past this many windows a heatmap cell covers several (their highest PSI): ~3 px each
MAX_QUALITY_LINES = 8  # features drawn per quality chart (the worst ones)
SEVERITY_FILL = {"minor": "#E69F00", "major": "#D55E00"}

_CSS = """body{font-family:sans-serif;margin:24px auto;max-width:1000px;color:#222}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd}
figure.chart{margin:16px 0}figcaption{font-weight:bold;margin-bottom:4px}.note{color:#555;font-size:13px}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right}.major{color:#b3261e;font-weight:bold}.minor{color:#9a6700;font-weight:bold}"""


def _h(value: object) -> str:
    return escape(str(value), quote=True)


class _Page:
    """The HTML being built: sections, charts (each a <figure> with its title) and tables."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.titles: list[str] = []

    def section(self, title: str) -> None:
        self.parts.append(f"<h2>{_h(title)}</h2>")

    def chart(self, title: str, svg: str, note: str = "") -> None:
        self.titles.append(title)
        self.parts.append(f'<figure class="chart"><figcaption>{_h(title)}</figcaption>{svg}'
                          + (f'<p class="note">{_h(note)}</p>' if note else "") + "</figure>")

    def table(self, head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> None:
        cells = "".join(f"<th>{_h(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{c}</td>' for i, c in enumerate(r))
                       + "</tr>" for r in rows)
        self.parts.append(f"<table><tr>{cells}</tr>{body}</table>")

    def note(self, text: str) -> None:
        self.parts.append(f'<p class="note">{_h(text)}</p>')


@dataclass(frozen=True)
class _Frame:
    """What every chart of a page shares: the time span, where plots begin (so that the time axes
    line up under each other) and how a feature is named."""

    x_range: tuple[int, int]
    left: float
    many_versions: bool

    def name(self, version: str, feature: str) -> str:
        return f"{feature} @{version}" if self.many_versions else feature

    def incident(self, i: Incident) -> str:
        return f"{self.name(i.version, i.feature)}/{i.family}"


def render_report(data: ReportData, generated_ms: int) -> str:
    page = _Page()
    x_range = (data.windows[0].start_ms, data.windows[-1].start_ms + data.window_ms)
    frame = _Frame(x_range, 0.0, len(data.versions) > 1)
    rows = {frame.name(f.version, f.feature) for f in data.features} | {frame.incident(i) for i in data.incidents or []}
    frame = replace(frame, left=plot_left(sorted(rows)))
    page.section("Volume and latency")
    _volume(page, data, frame)
    page.section("Drift")
    _drift(page, data, frame)
    _distributions(page, data, frame)
    page.section("Data quality")
    _quality(page, data, frame)
    page.section("Incidents")
    _incidents(page, data, frame)
    return _document(data, generated_ms, page)


def _document(data: ReportData, generated_ms: int, page: _Page) -> str:
    events = sum(w.count for w in data.windows)
    drifting = sorted({f.feature for f in data.features if f.drift})
    open_ = [i for i in data.incidents or [] if i.resolved_ms is None]
    summary = (f"{len(data.windows)} window(s) of {data.window_ms / 1000:g} s, {events:,} events, version(s) "
               f"{', '.join(data.versions)}; drifting features: {', '.join(drifting) or 'none'}; "
               + ("incidents unknown" if data.incidents is None else f"{len(open_)} open incident(s)"))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>driftline report: '
            f"{_h(data.model_id)}</title><style>{_CSS}</style></head><body>"
            f"<h1>driftline report: {_h(data.model_id)}</h1>"
            f'<p class="note">{utc_text(data.since_ms)} to {utc_text(data.until_ms)} UTC · generated '
            f"{utc_text(generated_ms)} UTC</p><p>{_h(summary)}</p>"
            + "".join(page.parts) + "</body></html>\n")


def _volume(page: _Page, data: ReportData, frame: _Frame) -> None:
    versions = data.versions
    series = []
    for v in versions:
        mine = [w for w in data.windows if w.version == v]
        label = "" if len(versions) == 1 else f" {v}"
        series.append(Series(f"events{label}", [(w.start_ms, float(w.count)) for w in mine]))
        if any(w.late_count for w in mine):
            series.append(Series(f"late events{label}", [(w.start_ms, float(w.late_count)) for w in mine]))
    page.chart("Events per window", line_chart(series, x_range=frame.x_range, y_title="events",
                                               gap_ms=data.window_ms, left=frame.left))
    quantiles = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms") if len(versions) == 1 else ("latency_p95_ms",)
    latency = [Series(q.removeprefix("latency_").removesuffix("_ms") + ("" if len(versions) == 1 else f" {v}"),
                      [(w.start_ms, w.latency[q]) for w in data.windows if w.version == v and q in w.latency])
               for v in versions for q in quantiles]
    page.chart("Latency per window", line_chart([s for s in latency if s.points], x_range=frame.x_range,
                                                y_title="ms", gap_ms=data.window_ms, empty="no latency reported",
                                                left=frame.left))


def _by_feature(features: list[FeatureWindow]) -> dict[tuple[str, str], list[FeatureWindow]]:
    out: dict[tuple[str, str], list[FeatureWindow]] = {}
    for f in features:
        out.setdefault((f.version, f.feature), []).append(f)
    return out


def _drift(page: _Page, data: ReportData, frame: _Frame) -> None:
    x_range, name = frame.x_range, frame.name
    by_key = _by_feature(data.features)
    keys = sorted(by_key, key=lambda k: (-max((f.psi or 0.0) for f in by_key[k]), k))
    span = math.ceil(len({f.start_ms for f in data.features}) / MAX_HEAT_COLUMNS) or 1
    cell_ms = data.window_ms * span
    cells = []
    for row, key in enumerate(keys):
        buckets: dict[int, list[FeatureWindow]] = {}
        for f in by_key[key]:
            buckets.setdefault(x_range[0] + (f.start_ms - x_range[0]) // cell_ms * cell_ms, []).append(f)
        for start, group in sorted(buckets.items()):
            psis = [f.psi for f in group if f.psi is not None]
            value = max(psis) if psis else float("nan")
            fired = [f for f in group if f.drift]
            severity = "major" if any(f.severity == "major" for f in fired) else "minor" if fired else "none"
            tip = (f"{name(*key)} {utc_text(start)}{f' ({span} windows)' if span > 1 else ''}: psi "
                   f"{'-' if not psis else f'{value:.3f}'}, drift {severity}")
            cells.append(Cell(row, start, value, bool(fired), tip))
    note = ("Each cell is a window's PSI against the reference profile; a dark strip on top: the window's drift "
            "verdict fired (PSI or another statistic, see feature_drift).")
    if span > 1:
        note += f" Each cell covers {span} windows (their highest PSI)."
    page.chart("Drift per feature (PSI)", heatmap([name(*k) for k in keys], cells, x_range=x_range, cell_ms=cell_ms,
                                                  title="PSI", left=frame.left), note)


def _distributions(page: _Page, data: ReportData, frame: _Frame) -> None:
    psi = {(f.version, f.feature, f.start_ms): f.psi for f in data.features}
    drifted = any(f.drift for f in data.features)
    for d in data.distributions:
        groups = [("reference", d.reference)]
        starts = list(d.windows)
        for start in starts:
            value = psi.get((d.version, d.feature, start))
            role = "latest window" if start == starts[-1] else "window of highest PSI"
            if len(starts) == 1:
                role = "window of highest PSI, the latest"
            groups.append((f"{role} {utc_text(start)[11:]} (PSI {value:.3f})" if value is not None
                           else f"{role} {utc_text(start)[11:]}", d.windows[start]))
        note = "Share of the window's present values in each bin of the profile."
        if not drifted:
            note += " No drift verdict fired in range: this is the feature of highest PSI."
        bars = grouped_bars(d.labels, groups, y_title="share")
        page.chart(f"Distribution of {frame.name(d.version, d.feature)}", bars, note)
    if not data.distributions:
        page.note("No distributions: the windows in range have no feature_bins points (no profile, or written "
                  "by a worker older than this report).")


def _quality(page: _Page, data: ReportData, frame: _Frame) -> None:
    name = frame.name
    by_key = _by_feature(data.features)

    def worst(pick: Callable[[FeatureWindow], float | None], label: Callable[[FeatureWindow], str]) -> list[Series]:
        found = []
        for key, rows in by_key.items():
            points = [(f.start_ms, pick(f)) for f in rows if pick(f) is not None]
            if any(v > 0 for _, v in points):
                found.append((max(v for _, v in points), Series(name(*key) + label(rows[0]), points)))
        return [s for _, s in sorted(found, key=lambda p: (-p[0], p[1].name))[:MAX_QUALITY_LINES]]

    page.chart("Missing values per window", line_chart(
        worst(lambda f: f.missing_share, lambda f: ""), x_range=frame.x_range, y_title="share missing", percent=True,
        gap_ms=data.window_ms, empty="no missing values in range", left=frame.left))
    page.chart("Out-of-range and unseen values per window", line_chart(
        worst(lambda f: f.out_of_range_share if f.out_of_range_share is not None else f.unseen_share,
              lambda f: " (out of range)" if f.out_of_range_share is not None else " (unseen)"),
        x_range=frame.x_range, y_title="share", percent=True, gap_ms=data.window_ms,
        empty="no value out of the reference's range and no unseen category in range", left=frame.left),
        "Numeric features: values outside the reference's min and max; categorical: categories the reference "
        "never had.")
    rows = []
    for key in sorted(by_key):
        fs = by_key[key]
        missing = [f.missing_share for f in fs if f.missing_share is not None]
        off = [v for f in fs for v in (f.out_of_range_share, f.unseen_share) if v is not None]
        verdict = next((s for s in ("major", "minor") if any(f.quality_severity == s for f in fs)), "none")
        rows.append([_h(name(*key)), _pct(sum(missing) / len(missing) if missing else None),
                     _pct(max(missing, default=None)), _pct(max(off, default=None)),
                     f"{sum(f.type_errors for f in fs):,}", f'<span class="{verdict}">{verdict}</span>'])
    page.table(["feature", "missing (mean)", "missing (max)", "out of range / unseen (max)", "type errors",
                "worst quality verdict"], rows, numeric={1, 2, 3, 4})


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _incidents(page: _Page, data: ReportData, frame: _Frame) -> None:
    x_range = frame.x_range
    incidents: list[Incident] = data.incidents or []
    labels = [frame.incident(i) for i in incidents]
    bars = [Bar(row, i.opened_ms, i.resolved_ms or x_range[1], SEVERITY_FILL.get(i.severity, "#888"),
                f"{labels[row]} {i.severity}, {i.statistic} up to {i.peak:.3g} (threshold {i.threshold:g}), "
                f"{utc_text(i.opened_ms)} to {'now (open)' if i.resolved_ms is None else utc_text(i.resolved_ms)}")
            for row, i in enumerate(incidents)]
    empty = ("the alerts topic could not be read" if data.incidents is None else "no incidents in range")
    page.chart("Incidents", timeline(labels, bars, x_range=x_range, legend=list(SEVERITY_FILL.items()), empty=empty,
                                     left=frame.left),
               "From the alerts topic: an incident opens at its first drifting window and resolves after its "
               "clear windows; open ones reach the right edge.")
    if data.incidents is None:
        page.note(f"Incidents unknown: {data.incidents_problem}")
        return
    page.table(["incident", "statistic", "severity", "opened (UTC)", "resolved (UTC)", "windows", "peak", "threshold"],
               [[_h(labels[n]), _h(i.statistic), f'<span class="{_h(i.severity)}">{_h(i.severity)}</span>',
                 utc_text(i.opened_ms), "open" if i.resolved_ms is None else utc_text(i.resolved_ms), str(i.windows),
                 f"{i.peak:.4g}", f"{i.threshold:g}"] for n, i in enumerate(incidents)], numeric={5, 6, 7})


def run_report(settings: Settings, *, model: str, since_s: float, output: Path) -> ReportData:
    now_ms = int(time.time() * 1000)
    data = ReportReader(settings, model, now_ms - int(since_s * 1000), now_ms).read()
    try:
        output.write_text(render_report(data, now_ms), encoding="utf-8")
    except OSError as exc:
        raise DriftlineError(f"cannot write the report to {output}: {exc.strerror or exc}") from exc
    return data
