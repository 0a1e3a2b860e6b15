"""`driftline status`: every model's latest window, events/s, latency, drifting features and open
incidents, and the worker group's consumer lag, in one terminal view (or JSON).

Where each figure comes from: windows from InfluxDB (`window_stats`: the last windows' `count`,
`late_count`, `latency_p95_ms`; `feature_drift`: `drift` and `severity` at the model's last
window), plain Flux; open incidents from the alerts topic (an incident is open while the last
event of its dedup key is `firing`; only the window verdicts' incidents, `drift` and the quality
families, have a life: ADWIN's, the error stream's and performance alerts are one-off events);
lag from the committed offsets of the worker's group (DRIFTLINE_APP_ID) on the predictions topic
against its end offsets (what a lag indicator is for: the worker's own resume point is its
checkpoint).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from detectors.stats.quality import QUALITY_STATISTICS
from streams.commands.flux import FluxReader, flux_text
from streams.commands.kafka_errors import reaching_kafka
from streams.commands.times import utc_text
from streams.errors import DriftlineError
from streams.settings import Settings
from streams.sinks.influx import version_tag

RECENT_WINDOWS = 5  # events/s is measured over the model's latest windows
KAFKA_TIMEOUT_S = 5.0
INCIDENT_FAMILIES = frozenset({"drift", *QUALITY_STATISTICS})  # the families that resolve

ModelKey = tuple[str, str]  # model_id, model_version (InfluxDB's tag: "unversioned" when empty)


@dataclass
class ModelStatus:
    model_id: str
    model_version: str
    last_window_ms: int | None = None
    count: int | None = None
    late_count: int | None = None
    events_per_s: float | None = None
    latency_p95_ms: float | None = None
    drifting: dict[str, str] = field(default_factory=dict)  # feature -> severity
    incidents: list[dict] = field(default_factory=list)  # the last event of each open incident


@dataclass
class ConsumerLag:
    group: str
    topic: str
    partitions: dict[int, int | None]  # partition -> messages behind; None: the group committed nothing

    @property
    def total(self) -> int | None:
        known = [lag for lag in self.partitions.values() if lag is not None]
        return sum(known) if known else None


@dataclass
class Status:
    at_ms: int
    models: list[ModelStatus]
    lag: ConsumerLag


def fold_windows(stats: list[dict], drift: list[dict], default_window_ms: int) -> dict[ModelKey, ModelStatus]:
    """Flux rows (`values` of each record) into per-model figures: `stats` are the latest
    window_stats points, `drift` the latest feature_drift points of each feature."""
    series: dict[ModelKey, dict[int, dict]] = {}
    for row in stats:
        key = (row["model_id"], row["model_version"])
        series.setdefault(key, {}).setdefault(_ms(row), {})[row["_field"]] = row["_value"]
    models: dict[ModelKey, ModelStatus] = {}
    for key, windows in series.items():
        starts = sorted(t for t, fields in windows.items() if "count" in fields)[-RECENT_WINDOWS:]
        if not starts:
            continue
        last = windows[starts[-1]]
        # The window length: the smallest gap between windows (a busy model has no gaps), else the setting's.
        size = min((b - a for a, b in zip(starts, starts[1:])), default=default_window_ms)
        span_s = (starts[-1] - starts[0] + size) / 1000
        models[key] = ModelStatus(*key, last_window_ms=starts[-1], count=int(last["count"]),
                                  late_count=int(last.get("late_count", 0)),
                                  events_per_s=sum(int(windows[t]["count"]) for t in starts) / span_s,
                                  latency_p95_ms=last.get("latency_p95_ms"))
    latest: dict[tuple, dict] = {}
    for row in drift:
        latest.setdefault((row["model_id"], row["model_version"], row["feature"], _ms(row)), {})[row["_field"]] = \
            row["_value"]
    for (model_id, version, feature, t), fields in sorted(latest.items()):
        status = models.get((model_id, version))
        if status is not None and t == status.last_window_ms and fields.get("drift") == 1:
            status.drifting[feature] = fields.get("severity", "?")
    return models


def _ms(row: dict) -> int:
    return int(row["_time"].timestamp() * 1000)


def incident_event(raw: bytes | None) -> dict | None:
    """An alert of an incident that resolves (the drift and quality families), else None."""
    import orjson

    try:
        alert = orjson.loads(raw or b"")
        family = alert["dedup_key"].rsplit("/", 1)[-1]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None  # not an incident event (schema version 1, or not an alert at all)
    return alert if family in INCIDENT_FAMILIES else None


class OpenIncidents:
    """The alerts topic folded into open incidents. Kept between refreshes of `--watch`, so each
    refresh reads only the alerts published since the last one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.last: dict[str, dict] = {}  # dedup key -> its latest event
        self._next: dict[int, int] = {}  # partition -> the next offset to read
        self._consumer = None

    def apply(self, raw: bytes | None) -> None:
        alert = incident_event(raw)
        if alert is not None:
            self.last[alert["dedup_key"]] = alert

    def by_model(self) -> dict[ModelKey, list[dict]]:
        found: dict[ModelKey, list[dict]] = {}
        for key, alert in sorted(self.last.items()):
            if alert.get("status") == "firing":
                found.setdefault((alert["model_id"], version_tag(alert["model_version"])), []).append(alert)
        return found

    def refresh(self) -> None:
        from confluent_kafka import TopicPartition

        from streams.kafka.topics import end_offsets, read_to_ends, reader

        topic = self.settings.alerts_topic
        with reaching_kafka(self.settings, f"reading {topic}"):
            if self._consumer is None:
                self._consumer = reader(self.settings)
            offsets = end_offsets(self._consumer, topic, KAFKA_TIMEOUT_S)
            starts = {p: max(low, self._next.get(p, 0)) for p, (low, _) in offsets.items()}
            ends = {p: high for p, (_, high) in offsets.items() if high > starts[p]}
            if not ends:
                return
            self._consumer.assign([TopicPartition(topic, p, starts[p]) for p in ends])
            left = dict(ends)  # read_to_ends empties it as partitions reach their end
            for msg in read_to_ends(self._consumer, left, 6 * KAFKA_TIMEOUT_S):
                if msg.offset() >= self._next.get(msg.partition(), 0):
                    self._next[msg.partition()] = msg.offset() + 1
                    self.apply(msg.value())
            if left:
                raise DriftlineError("timed out")

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


def consumer_lag(settings: Settings) -> ConsumerLag:
    """The worker group's committed offsets against the end offsets (the group is only asked, not
    joined: a consumer that never subscribes takes no partition from the workers)."""
    from confluent_kafka import Consumer, TopicPartition

    from streams.kafka.topics import end_offsets

    topic = settings.predictions_topic
    with reaching_kafka(settings, f"reading the committed offsets of {settings.app_id}"):
        consumer = Consumer({**settings.kafka_client_config(), "group.id": settings.app_id,
                             "enable.auto.commit": False})
        try:
            offsets = end_offsets(consumer, topic, KAFKA_TIMEOUT_S)
            committed = consumer.committed([TopicPartition(topic, p) for p in offsets], timeout=KAFKA_TIMEOUT_S) \
                if offsets else []
        finally:
            consumer.close()
    return ConsumerLag(settings.app_id, topic, {
        tp.partition: max(0, offsets[tp.partition][1] - tp.offset) if tp.offset >= 0 else None for tp in committed})


class StatusReader:
    """One InfluxDB client and one alerts reader, for one look or for every refresh of --watch."""

    def __init__(self, settings: Settings, *, model: str | None, since_s: float) -> None:
        self.settings, self.model, self.since_s = settings, model, since_s
        self.influx = FluxReader(settings)
        self.incidents = OpenIncidents(settings)

    def _query(self, measurement: str, fields: tuple[str, ...], select: str) -> list[dict]:
        wanted = " or ".join(f"r._field == {flux_text(f)}" for f in fields)
        only = f" and r.model_id == {flux_text(self.model)}" if self.model else ""
        return self.influx.rows(
            f"from(bucket: {self.influx.bucket})\n  |> range(start: -{int(self.since_s)}s)\n"
            f"  |> filter(fn: (r) => r._measurement == {flux_text(measurement)}{only} and ({wanted}))\n"
            f"  |> {select}")

    def read(self) -> Status:
        stats = self._query("window_stats", ("count", "late_count", "latency_p95_ms"), f"tail(n: {RECENT_WINDOWS})")
        drift = self._query("feature_drift", ("drift", "severity"), "last()")
        models = fold_windows(stats, drift, self.settings.window_ms)
        self.incidents.refresh()
        for key, open_ in self.incidents.by_model().items():
            if self.model in (None, key[0]):
                models.setdefault(key, ModelStatus(*key)).incidents = open_
        return Status(int(time.time() * 1000), [models[k] for k in sorted(models)], consumer_lag(self.settings))

    def close(self) -> None:
        self.incidents.close()
        self.influx.close()


def to_json(status: Status) -> dict:
    def when(ms: int | None) -> str | None:
        return None if ms is None else utc_text(ms).replace(" ", "T") + "Z"

    return {"at": when(status.at_ms), "at_ms": status.at_ms, "models": [{
        "model_id": m.model_id, "model_version": m.model_version, "last_window_start": when(m.last_window_ms),
        "last_window_start_ms": m.last_window_ms, "count": m.count, "late_count": m.late_count,
        "events_per_second": m.events_per_s, "latency_p95_ms": m.latency_p95_ms,
        "drifting": [{"feature": f, "severity": s} for f, s in m.drifting.items()],
        "open_incidents": [{"dedup_key": a["dedup_key"], "feature": a["feature"], "statistic": a["statistic"],
                            "severity": a["severity"], "since": a.get("incident_start"),
                            "since_ms": a.get("incident_start_ms"), "windows": a.get("windows_in_incident")}
                           for a in m.incidents]} for m in status.models],
        "consumer_lag": {"group": status.lag.group, "topic": status.lag.topic, "total": status.lag.total,
                         "partitions": {str(p): lag for p, lag in sorted(status.lag.partitions.items())}}}


def render(status: Status, problem: str | None = None) -> Group:
    table = Table(title=f"driftline status at {utc_text(status.at_ms)} UTC", title_justify="left",
                  box=box.SIMPLE_HEAD)
    for name, right in (("model", False), ("version", False), ("last window", False), ("count", True),
                        ("events/s", True), ("p95 ms", True), ("drifting", False), ("open incidents", False)):
        wraps = name in ("model", "drifting", "open incidents")
        table.add_column(name, justify="right" if right else "left", no_wrap=not wraps, min_width=8 if wraps else None,
                         overflow="fold")
    for m in status.models:
        drifting = ", ".join(f"[bold red]{f}[/] ({s})" for f, s in m.drifting.items()) or "-"
        incidents = ", ".join(f"{a['feature']}/{a['dedup_key'].rsplit('/', 1)[-1]} {a['severity']} since "
                              f"{utc_text(a.get('incident_start_ms') or a['window_start_ms'])[5:]}"
                              for a in m.incidents) or "-"
        table.add_row(m.model_id, m.model_version, "-" if m.last_window_ms is None else utc_text(m.last_window_ms)[5:],
                      "-" if m.count is None else str(m.count),
                      "-" if m.events_per_s is None else f"{m.events_per_s:,.1f}",
                      "-" if m.latency_p95_ms is None else f"{m.latency_p95_ms:.1f}", drifting, incidents)
    if not status.models:
        table.add_row("(no windows)", "", "", "", "", "", "", "")
    lag = status.lag
    if not lag.partitions:
        lag_text = f"consumer lag: topic {lag.topic} does not exist"
    elif lag.total is None:
        lag_text = f"consumer lag: group {lag.group} has committed nothing on {lag.topic} (is a worker running?)"
    else:
        behind = ", ".join(f"p{p}: {n}" for p, n in sorted(lag.partitions.items()) if n)
        lag_text = (f"consumer lag of group {lag.group} on {lag.topic}: {lag.total} message(s)"
                    + (f" ({behind})" if behind else ""))
    return Group(table, lag_text, *([f"[bold red]error:[/] {problem} (showing the last figures)"] if problem else []))


def run_status(settings: Settings, *, model: str | None, since_s: float, watch: bool, interval_s: float,
               as_json: bool) -> None:
    import sys

    import orjson

    reader = StatusReader(settings, model=model, since_s=since_s)
    out = Console()
    try:
        status = reader.read()  # a first failure is an error: the settings are wrong, or nothing is up
        if as_json:
            sys.stdout.write(orjson.dumps(to_json(status)).decode() + "\n")
            sys.stdout.flush()
        if not watch:
            if not as_json:
                out.print(render(status))
            return
        live = None if as_json else Live(render(status), console=out, auto_refresh=False)
        with live or contextlib.nullcontext():
            while True:
                time.sleep(interval_s)
                problem = None
                try:
                    status = reader.read()
                except DriftlineError as exc:  # shown, and tried again: a watch outlives a blip
                    problem = str(exc)
                if as_json:
                    sys.stdout.write(orjson.dumps(to_json(status) | {"error": problem}).decode() + "\n")
                    sys.stdout.flush()
                else:
                    live.update(render(status, problem), refresh=True)
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()

