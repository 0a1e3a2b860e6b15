"""Which alerts a closed window raises."""

from __future__ import annotations

import math

from schemas import DriftAlert
from streams.settings import Settings
from streams.windowing import ClosedWindow


def window_alerts(window: ClosedWindow, settings: Settings) -> list[DriftAlert]:
    alerts = []
    for feature, snap in window.state.snapshot()["features"].items():
        value = snap["psi"]
        if not math.isnan(value) and value >= settings.psi_threshold:
            alerts.append(DriftAlert.for_window(
                model_id=window.model_id, model_version=window.model_version, window_start=window.start_ms,
                window_end=window.end_ms, feature=feature, statistic="psi", value=value,
                threshold=settings.psi_threshold, major_threshold=settings.psi_major_threshold))
    return alerts
