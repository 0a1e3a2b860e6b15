"""Realised performance of one prediction window, from the labels joined so far; mergeable.

The window is the prediction's (its event time), not the label's: a window's point is rewritten
each time more of its labels arrive. Per task:
- "binary": accuracy, precision, recall, F1, AUC-ROC, Gini, KS of the positive class's scores
  (BinaryClassificationMetrics, exact: every distinct score kept, so AUC merges exactly);
- "multiclass": accuracy and macro precision, recall, F1 of predicted vs true classes;
- "regression": RMSE, MAE, R^2 (and MSE, bias) from exact sums.
Always: `labeled_count`, `label_coverage` (labelled / predicted, the window's event count given at
snapshot), label lag p50 / p95 in seconds (exact up to 16,384 labels, then a 1 % sketch, as
latencies), `orphan_labels` and `duplicate_labels` (counted in the window of the label's time).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from detectors.errors import DetectorError
from detectors.latency import LatencyState
from detectors.stats.classification import BinaryClassificationMetrics, MulticlassMetrics
from detectors.stats.regression import RegressionMetrics

TASKS = ("binary", "multiclass", "regression")
_FIELDS = {"binary": ("accuracy", "precision", "recall", "f1", "auc", "gini", "ks"),
           "multiclass": ("accuracy", "macro_precision", "macro_recall", "macro_f1"),
           "regression": ("rmse", "mae", "r2", "mse", "bias")}


def is_positive(label: object, positive: str) -> bool:
    """A binary label is positive when it spells the positive class (True, 1 and "1" alike).

    >>> [is_positive(v, "1") for v in (True, 1, "1", "true", False, 0, "no")]
    [True, True, True, True, False, False, False]
    """
    text = str(label).strip().lower()
    if positive.lower() in ("1", "true"):
        return text in ("1", "true", "1.0")
    return text == positive.lower()


class WindowPerformance:
    """Realised metrics of one window's joined (prediction, label) pairs.

    >>> w = WindowPerformance("binary")
    >>> w.update([0.9, 0.2, 0.7], [True, False, False], lags_ms=[1000, 2000, 3000])
    >>> snap = w.snapshot(predicted=6)
    >>> snap["accuracy"], snap["label_coverage"], snap["label_lag_p50_s"]
    (0.6666666666666666, 0.5, 2.0)
    """

    def __init__(self, task: str, *, positive: str = "1", threshold: float = 0.5) -> None:
        if task not in TASKS:
            raise DetectorError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        self.task = task
        self.positive = positive
        self.threshold = threshold
        self._metrics = self._new_metrics()
        self._lags = LatencyState()
        self._orphans = 0
        self._duplicates = 0
        # Pairs not yet in the metrics: folded in at the next read, so that labels arriving a few
        # at a time do not rebuild a window's score table each time.
        self._buffer: list[tuple[Sequence[object], Sequence[object]]] = []
        self._buffered = 0

    def _new_metrics(self):
        if self.task == "binary":
            return BinaryClassificationMetrics(threshold=self.threshold)
        return MulticlassMetrics() if self.task == "multiclass" else RegressionMetrics()

    def update(self, predictions: Sequence[object] | np.ndarray, labels: Sequence[object],
               *, lags_ms: Sequence[float] | np.ndarray) -> None:
        """Add joined pairs: the positive class's score (binary), the predicted class (multiclass)
        or the predicted number (regression), with the true labels and the labels' lags."""
        if len(predictions) != len(labels) or len(labels) != len(lags_ms):
            raise DetectorError("predictions, labels and lags must have the same length")
        if self.task == "regression":  # checked now, so a bad pair is refused at its update
            try:
                values = np.asarray(predictions, dtype=np.float64), np.asarray(labels, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise DetectorError(f"numeric predictions and targets expected: {exc}") from exc
            if not (np.isfinite(values[0]).all() and np.isfinite(values[1]).all()):
                raise DetectorError("predictions and targets must be finite")
        self._buffer.append((list(predictions), list(labels)))
        self._buffered += len(labels)
        self._lags.update(np.clip(np.asarray(lags_ms, dtype=np.float64), 0.0, None))

    def _fold(self) -> None:
        if not self._buffer:
            return
        predictions = [p for chunk, _ in self._buffer for p in chunk]
        labels = [v for _, chunk in self._buffer for v in chunk]
        self._buffer, self._buffered = [], 0
        if self.task == "binary":
            y = np.array([is_positive(v, self.positive) for v in labels], dtype=np.int64)
            self._metrics.update(np.asarray(predictions, dtype=np.float64), y)
        elif self.task == "multiclass":
            self._metrics.update([str(p) for p in predictions], [str(v) for v in labels])
        else:
            self._metrics.update(np.asarray(predictions, dtype=np.float64), np.asarray(labels, dtype=np.float64))

    def add_orphans(self, n: int) -> None:
        self._orphans += int(n)

    def add_duplicates(self, n: int) -> None:
        self._duplicates += int(n)

    @property
    def labeled_count(self) -> int:
        return self._metrics.count + self._buffered

    def merge(self, other: "WindowPerformance") -> "WindowPerformance":
        if (other.task, other.positive, other.threshold) != (self.task, self.positive, self.threshold):
            raise DetectorError("only performance states of the same task, positive class and threshold merge")
        self._fold()
        other._fold()
        merged = WindowPerformance(self.task, positive=self.positive, threshold=self.threshold)
        merged._metrics = self._metrics.merge(other._metrics)
        merged._lags = self._lags.merge(other._lags)
        merged._orphans = self._orphans + other._orphans
        merged._duplicates = self._duplicates + other._duplicates
        return merged

    def snapshot(self, *, predicted: int) -> dict[str, float | int]:
        """The `window_performance` fields; `predicted` is the window's prediction count."""
        self._fold()
        metrics = self._metrics.snapshot()
        lags = self._lags.snapshot()
        out: dict[str, float | int] = {name: float(metrics[name]) for name in _FIELDS[self.task]}
        if self.task != "binary" and self.labeled_count == 0:
            out = {k: math.nan for k in out}
        out.update({"labeled_count": self.labeled_count,
                    "label_coverage": self.labeled_count / predicted if predicted else math.nan,
                    "label_lag_p50_s": lags.get("latency_p50_ms", math.nan) / 1000.0,
                    "label_lag_p95_s": lags.get("latency_p95_ms", math.nan) / 1000.0,
                    "orphan_labels": self._orphans, "duplicate_labels": self._duplicates})
        return out

    def to_state(self) -> dict[str, Any]:
        self._fold()
        return {"task": self.task, "positive": self.positive, "threshold": self.threshold,
                "metrics": self._metrics.to_state(), "lags": self._lags.to_state(),
                "orphans": self._orphans, "duplicates": self._duplicates}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "WindowPerformance":
        try:
            restored = cls(state["task"], positive=state["positive"], threshold=float(state["threshold"]))
            metrics_cls = type(restored._metrics)
            restored._metrics = metrics_cls.from_state(state["metrics"])
            restored._lags = LatencyState.from_state(state["lags"])
            restored._orphans = int(state["orphans"])
            restored._duplicates = int(state["duplicates"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DetectorError(f"malformed window performance state: {exc!r}") from exc
        return restored
