"""Alerts, published by the worker to `<prefix>.alerts`."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict


class DriftAlert(BaseModel):
    """An event of an incident: a statistic started firing for one feature (`status` "firing"),
    got worse or is still firing (a reminder), or is over ("resolved").

    Schema version 2 (v1 had one alert per drifting window and none of the incident fields):
    `status`, `dedup_key` (model/version/feature/family: one incident), `incident_start` (the
    window that opened it), `windows_in_incident`, `reason` (opened, escalated, reminder,
    resolved); `window_start`/`window_end` are the window that caused this event. `alert_id` is
    deterministic and unique per event (see `alert_id_for` and incidents.py).

    >>> a = DriftAlert.for_window(model_id="fraud", model_version="1", window_start=0,
    ...     window_end=60_000, feature="amount", statistic="psi", value=0.31, threshold=0.2)
    >>> a.severity, a.alert_id == alert_id_for("fraud", "1", 0, "amount", "psi")
    ('major', True)
    """

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[2] = 2
    alert_id: str
    model_id: str
    model_version: str
    window_start: str  # RFC 3339, UTC
    window_end: str
    window_start_ms: int
    window_end_ms: int
    feature: str
    statistic: str
    value: float
    threshold: float
    severity: Literal["minor", "major"]
    status: Literal["firing", "resolved"] = "firing"
    reason: Literal["opened", "escalated", "reminder", "resolved"] = "opened"
    dedup_key: str = ""
    incident_start: str = ""  # RFC 3339, UTC: start of the window that opened the incident
    incident_start_ms: int = 0
    windows_in_incident: int = 1

    @classmethod
    def for_window(
        cls,
        *,
        model_id: str,
        model_version: str,
        window_start: int,
        window_end: int,
        feature: str,
        statistic: str,
        value: float,
        threshold: float,
        major_threshold: float = 0.25,
        severity: str | None = None,
    ) -> "DriftAlert":
        """Build an alert for a window given as epoch milliseconds (an incident of one window, as
        ADWIN's detections are); `severity` is the verdict's, else read off `major_threshold`."""
        return cls(
            dedup_key="/".join([model_id, model_version or "-", feature, statistic]),
            incident_start=_rfc3339(window_start),
            incident_start_ms=window_start,
            alert_id=alert_id_for(model_id, model_version, window_start, feature, statistic),
            model_id=model_id,
            model_version=model_version,
            window_start=_rfc3339(window_start),
            window_end=_rfc3339(window_end),
            window_start_ms=window_start,
            window_end_ms=window_end,
            feature=feature,
            statistic=statistic,
            value=value,
            threshold=threshold,
            severity=severity or ("major" if value >= max(major_threshold, threshold) else "minor"),
        )


    @classmethod
    def for_incident(cls, *, alert_id: str, model_id: str, model_version: str, window_start: int, window_end: int,
                     feature: str, statistic: str, value: float, threshold: float, severity: str, status: str,
                     reason: str, dedup_key: str, incident_start: int, windows_in_incident: int) -> "DriftAlert":
        """An incident's event (streams/core/incidents.py); times in epoch milliseconds."""
        return cls(alert_id=alert_id, model_id=model_id, model_version=model_version,
                   window_start=_rfc3339(window_start), window_end=_rfc3339(window_end),
                   window_start_ms=window_start, window_end_ms=window_end, feature=feature, statistic=statistic,
                   value=value, threshold=threshold, severity=severity, status=status, reason=reason,
                   dedup_key=dedup_key, incident_start=_rfc3339(incident_start), incident_start_ms=incident_start,
                   windows_in_incident=windows_in_incident)


def alert_id_for(model_id: str, model_version: str, window_start_ms: int, feature: str, statistic: str) -> str:
    """Same model, version, window, feature and statistic give the same id."""
    key = "\x1f".join([model_id, model_version, str(window_start_ms), feature, statistic])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _rfc3339(epoch_ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
