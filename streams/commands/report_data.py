"""What `driftline report` draws, read from InfluxDB (plain Flux: window_stats, feature_drift,
data_quality, feature_bins) and from the alerts topic (the incidents, folded from their events).

Plain data: report.py renders it without any I/O, so the rendering is tested on fixed data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from streams.commands.flux import FluxReader, flux_text
from streams.commands.status import OpenIncidents, incident_event
from streams.commands.times import utc_text
from streams.errors import DriftlineError
from streams.settings import Settings

MAX_DISTRIBUTIONS = 6  # features whose bins are drawn (the drifting ones, most drifted first)
KNOWN_MODELS_LOOKBACK = "-30d"  # where an unknown model's error looks for the models there are


@dataclass(frozen=True)
class WindowStats:
    version: str
    start_ms: int
    count: int
    late_count: int
    latency: dict[str, float]  # latency_p50_ms, latency_p95_ms, ... (absent: no latency reported)


@dataclass(frozen=True)
class FeatureWindow:
    """One feature in one window: its drift (feature_drift) and quality (data_quality)."""

    version: str
    feature: str
    start_ms: int
    psi: float | None
    drift: bool
    severity: str
    missing_share: float | None = None
    out_of_range_share: float | None = None  # numeric features
    unseen_share: float | None = None  # categorical features
    type_errors: int = 0
    quality_severity: str = "none"  # the worst of the window's quality verdicts


@dataclass(frozen=True)
class Distribution:
    """The profile bins of one feature: the reference's shares, the window where its PSI was
    highest, and the latest window (feature_bins)."""

    version: str
    feature: str
    labels: list[str]
    reference: list[float]
    windows: dict[int, list[float]]  # window start -> its shares, oldest first


@dataclass(frozen=True)
class Incident:
    dedup_key: str
    version: str
    feature: str
    family: str  # drift, or the quality statistic
    statistic: str  # what fired last
    severity: str  # the worst it reached
    opened_ms: int
    resolved_ms: int | None  # the end of the window that resolved it; None: still open
    windows: int
    peak: float  # the largest value it fired on
    threshold: float


@dataclass
class ReportData:
    model_id: str
    since_ms: int
    until_ms: int
    window_ms: int
    windows: list[WindowStats]
    features: list[FeatureWindow]
    distributions: list[Distribution] = field(default_factory=list)
    incidents: list[Incident] | None = None  # None: the alerts topic could not be read
    incidents_problem: str | None = None

    @property
    def versions(self) -> list[str]:
        return sorted({w.version for w in self.windows})


def fold_incidents(events: list[dict], model_id: str, since_ms: int, until_ms: int) -> list[Incident]:
    """Incident events (the alerts topic's, in its order) into one Incident per opening, those of
    `model_id` that were open at some time in [since_ms, until_ms)."""
    found: dict[tuple[str, int], dict] = {}
    for a in events:
        if a.get("model_id") != model_id:
            continue
        key = (a["dedup_key"], int(a.get("incident_start_ms") or a["window_start_ms"]))
        entry = found.setdefault(key, {"first": a, "major": False, "peak": None, "resolved": None})
        entry["last"] = a
        if a.get("status") == "resolved":
            entry["resolved"] = int(a["window_end_ms"])
        else:
            entry["major"] |= a.get("severity") == "major"
            entry["peak"] = max(float(a["value"]), entry["peak"] if entry["peak"] is not None else float("-inf"))
    out = []
    for (key, opened), e in found.items():
        last = e["last"]
        if opened >= until_ms or (e["resolved"] is not None and e["resolved"] <= since_ms):
            continue
        out.append(Incident(key, last.get("model_version") or "unversioned", last["feature"], key.rsplit("/", 1)[-1],
                            last["statistic"], "major" if e["major"] else e["first"].get("severity", "minor"), opened,
                            e["resolved"], int(last.get("windows_in_incident", 1)),
                            e["peak"] if e["peak"] is not None else float(last["value"]), float(last["threshold"])))
    return sorted(out, key=lambda i: (i.opened_ms, i.dedup_key))


def pick_distributions(features: list[FeatureWindow]) -> list[tuple[str, str, list[int]]]:
    """(version, feature, windows) of the features to draw: those whose drift verdict fired, the
    highest PSI first, else the one feature of highest PSI; each with its window of highest PSI
    and its latest window."""
    by_key: dict[tuple[str, str], list[FeatureWindow]] = {}
    for f in features:
        if f.psi is not None:
            by_key.setdefault((f.version, f.feature), []).append(f)
    if not by_key:
        return []
    drifting = [k for k, rows in by_key.items() if any(r.drift for r in rows)]

    def top(k: tuple[str, str]) -> float:
        return max(r.psi for r in by_key[k])

    keys = sorted(drifting, key=top, reverse=True)[:MAX_DISTRIBUTIONS] or [max(by_key, key=top)]
    out = []
    for key in keys:
        rows = by_key[key]
        worst = max((r for r in rows if r.drift or not drifting), key=lambda r: r.psi)
        out.append((*key, sorted({worst.start_ms, max(r.start_ms for r in rows)})))
    return out


class IncidentEvents(OpenIncidents):
    """Every incident event on the alerts topic (status keeps only each key's last one)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.events: list[dict] = []

    def apply(self, raw: bytes | None) -> None:
        alert = incident_event(raw)
        if alert is not None:
            self.events.append(alert)


def _flux_time(epoch_ms: int) -> str:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ms(row: dict) -> int:
    return int(row["_time"].timestamp() * 1000)


def _window_stats(row: dict) -> WindowStats:
    latency = {k: float(v) for k, v in row.items() if k.startswith("latency_") and v is not None}
    return WindowStats(row["model_version"], _ms(row), int(row["count"]), int(row.get("late_count") or 0), latency)


def _float(value) -> float | None:
    return None if value is None else float(value)


class ReportReader:
    def __init__(self, settings: Settings, model_id: str, since_ms: int, until_ms: int) -> None:
        self.settings, self.model_id, self.since_ms, self.until_ms = settings, model_id, since_ms, until_ms
        self.influx = FluxReader(settings)

    def _pivoted(self, measurement: str, extra: str = "") -> list[dict]:
        return self.influx.rows(
            f"from(bucket: {self.influx.bucket})\n"
            f"  |> range(start: {_flux_time(self.since_ms)}, stop: {_flux_time(self.until_ms)})\n"
            f"  |> filter(fn: (r) => r._measurement == {flux_text(measurement)} and "
            f"r.model_id == {flux_text(self.model_id)}{extra})\n"
            '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")')

    def read(self) -> ReportData:
        try:
            windows = sorted((_window_stats(r) for r in self._pivoted("window_stats")),
                             key=lambda w: (w.start_ms, w.version))
            if not windows:
                raise DriftlineError(self._nothing_in_range())
            features = self._features()
            data = ReportData(self.model_id, self.since_ms, self.until_ms, _window_ms(windows, self.settings.window_ms),
                              windows, features)
            data.distributions = self._distributions(pick_distributions(features))
        finally:
            self.influx.close()
        try:
            book = IncidentEvents(self.settings)
            try:
                book.refresh()
            finally:
                book.close()
            data.incidents = fold_incidents(book.events, self.model_id, self.since_ms, self.until_ms)
        except DriftlineError as exc:  # the report still shows what InfluxDB has
            data.incidents_problem = str(exc)
        return data

    def _features(self) -> list[FeatureWindow]:
        quality = {(r["model_version"], r["feature"], _ms(r)): r for r in self._pivoted("data_quality")}
        out = []
        for r in self._pivoted("feature_drift"):
            q = quality.get((r["model_version"], r["feature"], _ms(r)), {})
            severities = [v for k, v in q.items() if k.endswith("_severity") and isinstance(v, str)]
            worst = "major" if "major" in severities else "minor" if "minor" in severities else "none"
            out.append(FeatureWindow(r["model_version"], r["feature"], _ms(r), _float(r.get("psi")),
                                     r.get("drift") == 1, r.get("severity") or "none", _float(q.get("missing_share")),
                                     _float(q.get("out_of_range_share")), _float(q.get("unseen_share")),
                                     int(q.get("type_errors") or 0), worst))
        return sorted(out, key=lambda f: (f.start_ms, f.version, f.feature))

    def _distributions(self, picked: list[tuple[str, str, list[int]]]) -> list[Distribution]:
        if not picked:
            return []
        wanted = " or ".join(
            f"(r.model_version == {flux_text(v)} and r.feature == {flux_text(f)} and ("
            + " or ".join(f"r._time == {_flux_time(t)}" for t in times) + "))" for v, f, times in picked)
        rows = self._pivoted("feature_bins", f" and ({wanted})")
        out = []
        for version, feature, times in picked:
            mine = sorted((r for r in rows if r["model_version"] == version and r["feature"] == feature),
                          key=lambda r: (r["bin"], _ms(r)))
            if not mine:
                continue  # windows written before feature_bins existed
            labels = list(dict.fromkeys(r["bin"] for r in mine))
            first = {r["bin"]: r for r in mine if _ms(r) == times[-1]} or {r["bin"]: r for r in mine}
            shares = {t: [0.0] * len(labels) for t in times}
            for r in mine:
                shares[_ms(r)][labels.index(r["bin"])] = float(r["share"])
            out.append(Distribution(version, feature, [first[b]["label"] if b in first else b for b in labels],
                                    [float(first[b]["reference_share"]) if b in first else 0.0 for b in labels],
                                    {t: s for t, s in sorted(shares.items()) if any(s)}))
        return out

    def _nothing_in_range(self) -> str:
        model = flux_text(self.model_id)
        last = self.influx.rows(f"from(bucket: {self.influx.bucket})\n  |> range(start: 0)\n"
                                f'  |> filter(fn: (r) => r._measurement == "window_stats" and r.model_id == {model}'
                                ' and r._field == "count")\n  |> last()')
        if last:
            newest = max(_ms(r) for r in last)
            return (f"no windows of model {self.model_id!r} between {utc_text(self.since_ms)} and "
                    f"{utc_text(self.until_ms)} UTC (its last window began {utc_text(newest)} UTC; "
                    "try a longer --since)")
        known = self.influx.rows(
            f'import "influxdata/influxdb/schema"\nschema.tagValues(bucket: {self.influx.bucket}, tag: "model_id", '
            f'predicate: (r) => r._measurement == "window_stats", start: {KNOWN_MODELS_LOOKBACK})')
        names = sorted(str(r["_value"]) for r in known)
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        return (f"unknown model {self.model_id!r}: InfluxDB ({self.settings.influx_bucket}) has no windows of it"
                + (f" (models with windows in the last 30 days: {shown})" if names else " (nor of any model)"))


def _window_ms(windows: list[WindowStats], default_ms: int) -> int:
    """The window length: the smallest gap between one version's windows, else the setting's."""
    starts: dict[str, list[int]] = {}
    for w in windows:
        starts.setdefault(w.version, []).append(w.start_ms)
    gaps = [b - a for times in starts.values() for a, b in zip(times, times[1:]) if b > a]
    return min(gaps, default=default_ms)
