"""What a reference profile records about the model's performance (`profile build --label-column`):
the task, the positive class and decision threshold, the reference's realised metrics (the
baseline that performance alerts compare with) and, for scored binary classifiers, the CBPE
calibrator (score -> P(positive), detectors/cbpe.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.cbpe import Calibrator, EstimatedPerformance
from detectors.errors import DetectorError
from detectors.performance import TASKS, WindowPerformance, is_positive


@dataclass(frozen=True)
class PerformanceProfile:
    """The reference's performance.

    >>> p = build_performance_profile([0.9, 0.2, 0.7, 0.4], [1, 0, 0, 0], task="classification")
    >>> p.task, p.baseline["accuracy"], PerformanceProfile.from_dict(p.to_dict()) == p
    ('binary', 0.75, True)
    """

    task: str
    rows: int
    positive: str = "1"
    threshold: float = 0.5
    baseline: Mapping[str, float] = field(default_factory=dict)
    calibrator: Calibrator | None = None

    def estimator(self) -> EstimatedPerformance | None:
        """A fresh CBPE window state, when the profile can estimate (scored binary classifiers)."""
        if self.calibrator is None:
            return None
        return EstimatedPerformance(self.calibrator, threshold=self.threshold)

    def window(self) -> WindowPerformance:
        return WindowPerformance(self.task, positive=self.positive, threshold=self.threshold)

    def to_dict(self) -> dict:
        return {"task": self.task, "rows": self.rows, "positive": self.positive, "threshold": self.threshold,
                "baseline": dict(self.baseline),
                "calibrator": None if self.calibrator is None else self.calibrator.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PerformanceProfile":
        try:
            calibrator = data.get("calibrator")
            profile = cls(task=str(data["task"]), rows=int(data["rows"]), positive=str(data["positive"]),
                          threshold=float(data["threshold"]),
                          baseline={str(k): float(v) for k, v in data["baseline"].items()},
                          calibrator=None if calibrator is None else Calibrator.from_dict(calibrator))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DetectorError(f"malformed performance profile: {exc!r}") from exc
        if profile.task not in TASKS:
            raise DetectorError(f"performance profile task {profile.task!r} is not one of {', '.join(TASKS)}")
        return profile


def _is_score(values: Sequence[object]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in values)


def build_performance_profile(predictions: Sequence[object], labels: Sequence[object], *, task: str,
                              positive: str = "1", threshold: float = 0.5) -> PerformanceProfile:
    """`task` "classification" (binary when the predictions are scores in [0, 1], else
    multiclass over predicted classes) or "regression"; rows without a label or prediction are
    left out."""
    pairs = [(p, y) for p, y in zip(predictions, labels) if p is not None and y is not None
             and not (isinstance(p, float) and math.isnan(p)) and not (isinstance(y, float) and math.isnan(y))]
    if not pairs:
        raise DetectorError("no reference row has both a prediction and a label")
    preds, ys = [p for p, _ in pairs], [y for _, y in pairs]
    if task == "classification":
        task = "binary" if _is_score(preds) else "multiclass"
    elif task != "regression":
        raise DetectorError(f"task must be classification or regression, got {task!r}")
    if task == "regression" and not all(isinstance(v, (int, float)) for v in preds + ys):
        raise DetectorError("a regression profile needs numeric predictions and labels")
    window = WindowPerformance(task, positive=positive, threshold=threshold)
    window.update(preds, ys, lags_ms=np.zeros(len(ys)))
    snap = window.snapshot(predicted=len(ys))
    baseline = {k: float(v) for k, v in snap.items() if k not in ("label_coverage", "label_lag_p50_s",
                                                                   "label_lag_p95_s", "orphan_labels",
                                                                   "duplicate_labels")}
    calibrator = None
    if task == "binary":
        y = np.array([is_positive(v, positive) for v in ys], dtype=np.float64)
        calibrator = Calibrator.fit(np.asarray(preds, dtype=np.float64), y)
    return PerformanceProfile(task=task, rows=len(ys), positive=positive, threshold=threshold,
                              baseline=baseline, calibrator=calibrator)
