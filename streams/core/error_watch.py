"""Concept drift on the error stream, in label-arrival order (#11): per (model, version) and join
partition, river's DDM on the 0/1 errors of classifiers (`ddm`) and ADWIN on the errors (0/1, or
the absolute error of regressors: `adwin_error`). Each join partition sees the labels of its
share of the events (a hash of the event id: a uniform subsample of the label stream), so a
change shows in each of them; the merge stage publishes one alert per change (the first of
nearby detections, as for ADWIN on predictions). A detection is keyed to the newest prediction
window the detector has seen labels of: labels arrive roughly, not exactly, in prediction order
(a real-stack run keyed a change to the window before it by the label that happened to set it
off), and the change is known only once the labels that show it are in."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from detectors.performance import is_positive
from detectors.stats.online import ADWIN, DDM
from schemas import DriftAlert

ADWIN_ERROR_DELTA = 0.002
# DDM learns the error level it compares with from its first values: with river's 30 it fired on
# a stationary 25 % error rate within 100 labels (its minimum p + s caught a lucky start).
DDM_WARM_START = 500


@dataclass
class ErrorWatch:
    window_ms: int
    detectors: dict[tuple[str, str], dict] = field(default_factory=dict)  # -> {"ddm": DDM, "adwin_error": ADWIN}
    touched: set[tuple[str, str]] = field(default_factory=set)
    newest: dict[tuple[str, str], int] = field(default_factory=dict)  # -> newest window start fed

    def error(self, task: str, prediction, label: object, *, positive: str, threshold: float) -> float | None:
        """The model's error on one joined pair: 0/1 for classifiers, |error| for regressors."""
        if task == "binary":
            return float((prediction >= threshold) != is_positive(label, positive))
        if task == "multiclass":
            return float(str(prediction) != str(label))
        try:
            value = abs(float(label) - float(prediction))
        except (TypeError, ValueError):
            return None
        return value if math.isfinite(value) else None

    def observe(self, model: str, version: str, task: str, error: float, window_start_ms: int,
                event_id: str) -> list[tuple[str, DriftAlert]]:
        """Feed one error; returns (event id, alert) for each detection."""
        key = (model, version)
        found = self.detectors.get(key)
        if found is None:
            found = {"adwin_error": ADWIN(delta=ADWIN_ERROR_DELTA)}
            if task != "regression":
                found["ddm"] = DDM(warm_start=DDM_WARM_START)
            self.detectors[key] = found
        self.touched.add(key)
        window_start_ms = max(window_start_ms, self.newest.get(key, window_start_ms))
        self.newest[key] = window_start_ms
        out = []
        for statistic, detector in found.items():
            if detector.update_one(error):
                estimate = detector.snapshot().get("estimation", detector.snapshot().get("error_rate", error))
                threshold = getattr(detector, "delta", getattr(detector, "drift_threshold", 0.0))
                alert = DriftAlert.for_window(model_id=model, model_version=version, window_start=window_start_ms,
                                              window_end=window_start_ms + self.window_ms, feature="error",
                                              statistic=statistic, value=float(estimate), threshold=float(threshold),
                                              major_threshold=math.inf)
                out.append((event_id, alert))
        return out

    def to_state(self, key: tuple[str, str]) -> dict:
        return {"detectors": {name: d.to_state() for name, d in self.detectors[key].items()},
                "newest": self.newest.get(key)}

    def restore(self, key: tuple[str, str], state: dict) -> None:
        kinds = {"adwin_error": ADWIN, "ddm": DDM}
        self.detectors[key] = {name: kinds[name].from_state(s) for name, s in state["detectors"].items()}
        if state.get("newest") is not None:
            self.newest[key] = int(state["newest"])
