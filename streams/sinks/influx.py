"""Window results as InfluxDB points (the documented schema).

Each point is stamped with its window's start, so writing a window again overwrites the same
points instead of adding new ones. Fields that are undefined (NaN: no values) are left out.
"""

from __future__ import annotations

import asyncio
import math

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from streams.settings import Settings
from streams.windowing import ClosedWindow

# InfluxDB drops empty tag values; events without a version are tagged with this instead.
NO_VERSION_TAG = "unversioned"

_FEATURE_FIELDS = ("psi", "missing_share", "out_of_range_share", "unseen_share")


def version_tag(model_version: str) -> str:
    return model_version or NO_VERSION_TAG


def window_points(window: ClosedWindow) -> list[Point]:
    snap = window.state.snapshot()
    version = version_tag(window.model_version)
    stats = (
        Point("window_stats").tag("model_id", window.model_id).tag("model_version", version)
        .field("count", int(snap["count"])).field("late_count", int(snap["late_count"]))
        .time(window.start_ms, WritePrecision.MS)
    )
    for name, value in snap["latency"].items():
        stats.field(name, float(value))
    points = [stats]
    for feature, fsnap in snap["features"].items():
        point = (Point("feature_drift").tag("model_id", window.model_id).tag("model_version", version)
                 .tag("feature", feature).time(window.start_ms, WritePrecision.MS))
        for name in _FEATURE_FIELDS:
            value = fsnap.get(name)
            if value is not None and not math.isnan(value):
                point.field(name, float(value))
        point.field("count", int(fsnap["count"])).field("type_errors", int(fsnap["type_errors"]))
        points.append(point)
    return points


class InfluxSink:
    def __init__(self, settings: Settings) -> None:
        self._bucket = settings.influx_bucket
        self._org = settings.influx_org
        self._client = InfluxDBClient(url=settings.influx_url, token=settings.influx_token.get_secret_value(),
                                      org=settings.influx_org, timeout=30_000)
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

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

    def write_sync(self, windows: list[ClosedWindow]) -> None:
        points = [p for w in windows for p in window_points(w)]
        if points:
            self._write.write(bucket=self._bucket, org=self._org, record=points)

    async def write(self, windows: list[ClosedWindow]) -> None:
        # The client is synchronous; a thread keeps the event loop (and Kafka heartbeats) free.
        await asyncio.to_thread(self.write_sync, windows)

    def close(self) -> None:
        self._client.close()
