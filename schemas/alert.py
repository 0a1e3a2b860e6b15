"""Alerts, published by the worker to `<prefix>.alerts`."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict


class DriftAlert(BaseModel):
    """A statistic crossed its threshold for one feature in one window.

    `alert_id` is deterministic (see `alert_id_for`), so a re-sent alert is recognisable.

    >>> a = DriftAlert.for_window(model_id="fraud", model_version="1", window_start=0,
    ...     window_end=60_000, feature="amount", statistic="psi", value=0.31, threshold=0.2)
    >>> a.severity, a.alert_id == alert_id_for("fraud", "1", 0, "amount", "psi")
    ('major', True)
    """

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
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
    ) -> "DriftAlert":
        """Build an alert for a window given as epoch milliseconds."""
        return cls(
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
            severity="major" if value >= max(major_threshold, threshold) else "minor",
        )


def alert_id_for(model_id: str, model_version: str, window_start_ms: int, feature: str, statistic: str) -> str:
    """Same model, version, window, feature and statistic give the same id."""
    key = "\x1f".join([model_id, model_version, str(window_start_ms), feature, statistic])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _rfc3339(epoch_ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
