"""Window results as InfluxDB points (the documented schema).

Each point is stamped with its window's start, so writing a window again overwrites the same
points instead of adding new ones. Fields that are undefined (NaN: no values) are left out.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from detectors.stats.registry import window_statistics
from streams.settings import Settings
from streams.core.findings import WindowFindings
from streams.core.windowing import ClosedWindow

log = logging.getLogger("driftline.influx")

MAX_BACKOFF_S = 2.0  # longest wait between two write attempts during an outage
LOG_EVERY_S = 10.0  # an outage is logged once per this interval, with its attempt count
WRITE_TIMEOUT_MS = 10_000  # a hung InfluxDB (SIGSTOP, a dead network path) counts as a failure after this


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"


# InfluxDB drops empty tag values; events without a version are tagged with this instead.
NO_VERSION_TAG = "unversioned"

# feature_drift field -> key in the feature's snapshot: each statistic's fields, as the registry
# declares them, and the feature's missing share.
_DRIFT_FIELDS = {"missing_share": "missing_share",
                 **{f: key for spec in window_statistics().values() for f, key in spec.fields.items()}}
_QUALITY_FIELDS = ("missing_share", "out_of_range_share", "unseen_share")


def version_tag(model_version: str) -> str:
    return model_version or NO_VERSION_TAG


def performance_point(model_id: str, model_version: str, window_start_ms: int, fields: dict) -> Point:
    """One `window_performance` point, stamped with the window's start like every window point."""
    point = Point("window_performance").tag("model_id", model_id).tag("model_version", version_tag(model_version))
    for name, value in fields.items():
        if isinstance(value, bool) or value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        point = point.field(name, value if isinstance(value, (int, str)) else float(value))
    return point.time(window_start_ms, WritePrecision.MS)


def _point(measurement: str, window: ClosedWindow, feature: str | None = None) -> Point:
    point = (Point(measurement).tag("model_id", window.model_id).tag("model_version", version_tag(window.model_version))
             .time(window.start_ms, WritePrecision.MS))
    return point if feature is None else point.tag("feature", feature)


def _fields(point: Point, values: dict, names: dict[str, str]) -> None:
    for field, key in names.items():
        value = values.get(key)
        if value is not None and not math.isnan(value):
            point.field(field, float(value))


def window_points(findings: WindowFindings) -> list[Point]:
    window, snap = findings.window, findings.snapshot
    stats = _point("window_stats", window).field("count", int(snap["count"])).field("late_count", int(snap["late_count"]))
    stats.field("judged", int(findings.judged))  # 0: fewer events than DRIFTLINE_MIN_WINDOW_EVENTS, no verdicts
    for name, value in snap["latency"].items():
        stats.field(name, float(value))
    points = [stats]
    for feature, fsnap in snap["features"].items():
        drift = _point("feature_drift", window, feature)
        _fields(drift, fsnap, _DRIFT_FIELDS)
        verdict = findings.verdicts.get(feature)
        if verdict is not None:
            drift.field("drift", int(verdict.drifted)).field("severity", verdict.severity)
        quality = _point("data_quality", window, feature).field("count", int(fsnap["count"]))
        for verdict in (v for v in findings.quality if v.feature == feature):
            quality.field(f"{verdict.statistic}_severity", verdict.severity).field(f"{verdict.statistic}_q", verdict.qvalue)
        quality.field("type_errors", int(fsnap["type_errors"]))
        _fields(quality, fsnap, {name: name for name in _QUALITY_FIELDS})
        points += [drift, quality]
    if snap.get("prediction"):
        prediction = _point("prediction_drift", window).field("count", int(snap["prediction"]["count"]))
        _fields(prediction, snap["prediction"], _DRIFT_FIELDS)
        points.append(prediction)
    return points + bin_points(findings)


def bin_points(findings: WindowFindings) -> list[Point]:
    """`feature_bins`: one point per feature and profile bin (tag `bin`, its index zero-padded so
    that it sorts as text), with the window's and the reference's share."""
    points = []
    for feature, bins in findings.bins.items():
        for b in bins:
            point = (_point("feature_bins", findings.window, feature).tag("bin", f"{b.index:02d}")
                     .field("share", b.share).field("reference_share", b.reference_share)
                     .field("count", b.count).field("label", b.label))
            if b.lower is not None:
                point.field("lower", b.lower)
            points.append(point)
    return points


class InfluxSink:
    def __init__(self, settings: Settings) -> None:
        self._bucket = settings.influx_bucket
        self._org = settings.influx_org
        self._client = InfluxDBClient(url=settings.influx_url, token=settings.influx_token.get_secret_value(),
                                      org=settings.influx_org, timeout=WRITE_TIMEOUT_MS)
        self._write = self._client.write_api(write_options=SYNCHRONOUS)
        self.metrics = None  # WorkerMetrics, set by the worker: write durations and failures

    def check(self) -> None:
        """Fail early, with a clear message, when InfluxDB is unreachable or the token is wrong."""
        from streams.errors import DriftlineError

        try:
            if not self._client.ping():
                raise DriftlineError(f"InfluxDB at {self._client.url} does not answer /ping")
            self._client.buckets_api().find_bucket_by_name(self._bucket)
        except DriftlineError:
            raise
        except Exception as exc:
            raise DriftlineError(f"InfluxDB at {self._client.url}: {exc}") from exc

    def write_sync(self, windows: list[WindowFindings]) -> None:
        self._write_points([p for w in windows for p in window_points(w)])

    def _write_points(self, points: list[Point]) -> None:
        if points:
            self._write.write(bucket=self._bucket, org=self._org, record=points)

    async def write_performance(self, rows: list[tuple[str, str, int, dict]], max_backoff_s: float = MAX_BACKOFF_S
                                ) -> None:
        """`window_performance` points: (model, version, window start, fields); retried like write()."""
        points = [performance_point(*row) for row in rows]
        await self._retrying(lambda: self._write_points(points), len(rows), max_backoff_s)

    async def write(self, windows: list[WindowFindings], max_backoff_s: float = MAX_BACKOFF_S) -> None:
        await self._retrying(lambda: self.write_sync(windows), len(windows), max_backoff_s)

    async def _retrying(self, write, count: int, max_backoff_s: float) -> None:
        """Write, retrying until InfluxDB takes it. The worker waits meanwhile (back-pressure: it
        reads nothing more, so memory stays bounded, and a stalled partition closes nothing by
        idleness); the windows stay covered by the checkpoint, so an outage delays results but
        loses none. Retries are at most `max_backoff_s` apart, so results follow InfluxDB's return
        within seconds; failures are logged once per LOG_EVERY_S with their count, not per try.
        Points are idempotent, so a retry is harmless."""
        delay = min(0.25, max_backoff_s)
        failures, first_failure, logged_at = 0, 0.0, 0.0
        while True:
            try:
                # The client is synchronous; a thread keeps the event loop (and Kafka heartbeats) free.
                began = time.perf_counter()
                await asyncio.to_thread(write)
                if self.metrics is not None:
                    self.metrics.write_seconds.observe(time.perf_counter() - began)
                    self.metrics.influx_ok = True
                if failures:
                    log.warning("InfluxDB write of %d window(s) succeeded after %d failed attempt(s) in %.0f s",
                                count, failures, time.monotonic() - first_failure)
                return
            except Exception as exc:  # the client raises urllib3/ApiException/OSError alike
                now = time.monotonic()
                failures += 1
                if self.metrics is not None:
                    self.metrics.write_failures.inc()
                    self.metrics.influx_ok = False
                if failures == 1:
                    first_failure = now
                if now - logged_at >= LOG_EVERY_S:
                    logged_at = now
                    log.error("InfluxDB write of %d window(s) failing (%s): %d attempt(s) in %.0f s; "
                              "retrying every %.0f s, reading paused", count, _short(exc), failures,
                              now - first_failure, max_backoff_s)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_backoff_s)

    def close(self) -> None:
        self._client.close()
