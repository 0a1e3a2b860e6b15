"""Alert events as Prometheus Alertmanager alerts (POST /api/v2/alerts).

An incident is one Alertmanager alert: labels `alertname` (DriftlineDrift, DriftlineDataQuality,
DriftlineChange), `model`, `version`, `feature`, `statistic`, `severity`; annotations `summary`,
`value`, `threshold`, `window`, `incident_start`, `windows_in_incident`, `dedup_key`, `alert_id`
and `flux` (a ready Flux query of the incident's points). `startsAt` is the incident's start.

Alertmanager resolves an alert whose `endsAt` has passed and expects firing alerts to be re-sent
(Prometheus re-sends every evaluation), so an open incident is re-sent every `resend_s` with
`endsAt` = now + 4 x resend_s: if driftline stops, its alerts resolve by themselves minutes
later instead of firing forever. A `resolved` event sends the incident's labels with `endsAt` =
the end of the window that resolved it. When an update changes the labels (minor -> major, or
another statistic decided), the previous label set is ended at once, so one incident is one
firing alert at any time. ADWIN's changes have no resolve: they are sent once with `endsAt`
4 x resend_s ahead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import orjson

from detectors.stats.quality import QUALITY_STATISTICS
from detectors.stats.registry import build_registry
from schemas import DriftAlert
from streams.notify.hooks import post_json
from streams.sinks.influx import version_tag

_POINT_EVENTS = frozenset(n for n, s in build_registry().items() if s.inputs in ("scalar_stream", "error_stream"))


def _iso(ms: float) -> str:
    return dt.datetime.fromtimestamp(ms / 1000.0, dt.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def labels_of(alert: DriftAlert) -> dict[str, str]:
    if alert.statistic in _POINT_EVENTS:
        name = "DriftlineChange"
    elif alert.statistic in QUALITY_STATISTICS:
        name = "DriftlineDataQuality"
    else:
        name = "DriftlineDrift"
    return {"alertname": name, "model": alert.model_id, "version": version_tag(alert.model_version),
            "feature": alert.feature, "statistic": alert.statistic, "severity": alert.severity}


def flux_query(alert: DriftAlert, bucket: str) -> str:
    """The incident's points in InfluxDB, from an hour before it started."""
    measurement = ("data_quality" if alert.statistic in QUALITY_STATISTICS
                   else "prediction_drift" if alert.feature == "prediction" and alert.statistic not in _POINT_EVENTS
                   else "feature_drift")
    start = _iso((alert.incident_start_ms or alert.window_start_ms) - 3_600_000)
    return (f'from(bucket: "{bucket}") |> range(start: {start}) |> filter(fn: (r) => r._measurement == '
            f'"{measurement}" and r.model_id == "{alert.model_id}" and r.model_version == '
            f'"{version_tag(alert.model_version)}"'
            + (f' and r.feature == "{alert.feature}"' if measurement != "prediction_drift" else "") + ")")


def annotations_of(alert: DriftAlert, bucket: str) -> dict[str, str]:
    relation = "<" if alert.status == "resolved" else ">="
    return {
        "summary": (f"{alert.model_id}/{version_tag(alert.model_version)} {alert.feature}: {alert.statistic} "
                    f"{alert.value:.4g} {relation} {alert.threshold:g} ({alert.severity})"),
        "value": f"{alert.value:.6g}", "threshold": f"{alert.threshold:g}",
        "window": f"{alert.window_start} - {alert.window_end}", "incident_start": alert.incident_start,
        "windows_in_incident": str(alert.windows_in_incident), "dedup_key": alert.dedup_key,
        "alert_id": alert.alert_id, "reason": alert.reason, "flux": flux_query(alert, bucket),
    }


@dataclass
class AlertmanagerState:
    """What Alertmanager should hold: per open incident (dedup key) the alert last sent. Pure:
    every method returns the Alertmanager alerts to post at time `now_ms`."""

    bucket: str
    resend_s: float = 60.0
    open: dict[str, dict] = field(default_factory=dict)

    @property
    def ttl_ms(self) -> float:
        return 4 * self.resend_s * 1000

    def apply(self, alert: DriftAlert, now_ms: float) -> list[dict]:
        """The alerts to post for one event (and remember it)."""
        key = alert.dedup_key or alert.alert_id
        body = {"labels": labels_of(alert), "annotations": annotations_of(alert, self.bucket),
                "startsAt": _iso(alert.incident_start_ms or alert.window_start_ms)}
        previous = self.open.get(key)
        if alert.statistic in _POINT_EVENTS:
            return [{**body, "endsAt": _iso(now_ms + self.ttl_ms)}]
        if alert.status == "resolved":
            self.open.pop(key, None)
            ended = _iso(max(alert.window_end_ms, (alert.incident_start_ms or 0) + 1))
            labels = previous["labels"] if previous is not None else body["labels"]
            return [{**body, "labels": labels, "endsAt": ended}]
        out = []
        if previous is not None and previous["labels"] != body["labels"]:
            out.append({**previous, "endsAt": _iso(now_ms)})  # the old label set ends: one alert per incident
        self.open[key] = body
        out.append({**body, "endsAt": _iso(now_ms + self.ttl_ms)})
        return out

    def refresh(self, now_ms: float) -> list[dict]:
        """Every open incident again, its end moved ahead (Alertmanager's keep-alive)."""
        return [{**body, "endsAt": _iso(now_ms + self.ttl_ms)} for body in self.open.values()]


class AlertmanagerTarget:
    """Posts incidents to Alertmanager's API v2 (`url` is its base, e.g. http://localhost:9093)."""

    def __init__(self, url: str, *, bucket: str, resend_s: float = 60.0, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.state = AlertmanagerState(bucket=bucket, resend_s=resend_s)
        self.timeout_s = timeout_s
        self.name = f"alertmanager {url}"

    def recover(self, alert: DriftAlert) -> None:
        """Replay an event delivered before this process started (state only, nothing posted)."""
        self.state.apply(alert, 0.0)

    def deliver(self, alert: DriftAlert, raw: bytes) -> None:
        previous = dict(self.state.open)
        alerts = self.state.apply(alert, dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
        try:
            post_json(self.url, orjson.dumps(alerts), self.timeout_s)
        except Exception:
            self.state.open = previous  # not delivered: the retry must see the same state
            raise

    def keep_alive(self) -> None:
        alerts = self.state.refresh(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
        if alerts:
            post_json(self.url, orjson.dumps(alerts), self.timeout_s)
