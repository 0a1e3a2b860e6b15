"""Performance estimated before labels arrive: confidence-based performance estimation (CBPE,
as NannyML names it), incremental and mergeable.

If a classifier's scores are calibrated, a prediction with calibrated probability p of the
positive class is a true positive with probability p when it predicts positive (score >=
threshold) and a false negative with probability p when it predicts negative. Summing over a
window gives the expected confusion matrix without a single label:

    E[TP] = sum_{yhat=1} p    E[FP] = sum_{yhat=1} (1 - p)
    E[FN] = sum_{yhat=0} p    E[TN] = sum_{yhat=0} (1 - p)

and from it the estimated accuracy, precision, recall and F1 (ratios of the expected counts).
The estimated AUC is the AUC of the window's scores with each prediction weighing p as a
positive and 1 - p as a negative (the expected Mann-Whitney count, ties 1/2).

Calibration: raw scores are rarely calibrated, so `Calibrator.fit` learns the map score ->
P(positive) on a labelled reference set by isotonic regression (pool adjacent violators, the
method scikit-learn's IsotonicRegression implements; linear between fitted points, clipped
outside them). Assumptions and limits: the map learnt on the reference must still hold (no
concept drift: P(y | score) unchanged); the estimate is blind to concept drift by construction,
which is why the realised metrics, once labels arrive, are written beside it (estimation_gap).

The window state keeps per distinct score (rounded to `decimals`, default 4, so a window holds at
most 10,001 rows for probabilities) the sums of p and 1 - p, plus the expected confusion
counts: merging adds them, exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from detectors.errors import DetectorError


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from scores to P(positive): fitted points, linear between them.

    >>> c = Calibrator.fit(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]))
    >>> c.points, c.values
    ((0.1, 0.2, 0.3, 0.4), (0.0, 0.5, 0.5, 1.0))
    """

    points: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.points or len(self.points) != len(self.values):
            raise DetectorError("a calibrator needs as many values as points (at least one)")
        if any(b < a for a, b in zip(self.points, self.points[1:])) or any(
                b < a for a, b in zip(self.values, self.values[1:])):
            raise DetectorError("a calibrator's points and values must be non-decreasing")
        if not all(0.0 <= v <= 1.0 for v in self.values) or not all(map(math.isfinite, self.points)):
            raise DetectorError("calibrated probabilities must lie in [0, 1] at finite points")

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> "Calibrator":
        """Isotonic regression of 0/1 `labels` on `scores` (pool adjacent violators)."""
        scores = np.asarray(scores, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.float64)
        if scores.shape != labels.shape or scores.ndim != 1 or scores.size == 0:
            raise DetectorError("calibration needs as many labels as scores (at least one)")
        if not np.isfinite(scores).all() or not np.isin(labels, (0.0, 1.0)).all():
            raise DetectorError("calibration needs finite scores and 0/1 labels")
        unique, inverse = np.unique(scores, return_inverse=True)
        weight = np.bincount(inverse).astype(np.float64)
        mean = np.bincount(inverse, weights=labels) / weight
        # Pool adjacent violators: a stack of blocks (value, weight, number of points).
        values, weights, sizes = [], [], []
        for v, w in zip(mean, weight):
            values.append(v); weights.append(w); sizes.append(1)  # noqa: E702
            while len(values) > 1 and values[-2] > values[-1]:
                w2 = weights[-2] + weights[-1]
                v2 = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w2
                s2 = sizes[-2] + sizes[-1]
                del values[-1], weights[-1], sizes[-1]
                values[-1], weights[-1], sizes[-1] = v2, w2, s2
        fitted = np.repeat(values, sizes)
        # Keep the ends of every constant run: the same function with fewer points.
        keep = np.ones(unique.size, dtype=bool)
        keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
        return cls(points=tuple(map(float, unique[keep])), values=tuple(float(min(1.0, max(0.0, v)))
                                                                         for v in fitted[keep]))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(scores, dtype=np.float64), self.points, self.values)

    def to_dict(self) -> dict:
        return {"points": list(self.points), "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Calibrator":
        try:
            return cls(points=tuple(map(float, data["points"])), values=tuple(map(float, data["values"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise DetectorError(f"malformed calibrator: {exc!r}") from exc


class EstimatedPerformance:
    """CBPE's estimated accuracy, precision, recall, F1 and AUC of one window; mergeable.

    >>> est = EstimatedPerformance(Calibrator((0.0, 1.0), (0.0, 1.0)), threshold=0.5)
    >>> est.update(np.array([0.9, 0.8, 0.2, 0.1]))
    >>> round(est.accuracy, 3), round(est.auc, 3)
    (0.85, 0.875)
    """

    def __init__(self, calibrator: Calibrator, *, threshold: float = 0.5, decimals: int = 4) -> None:
        if not math.isfinite(threshold):
            raise DetectorError("threshold must be finite")
        self.calibrator = calibrator
        self.threshold = threshold
        self.decimals = decimals
        self._scores = np.empty(0)
        self._pos = np.empty(0)  # sum of p per distinct rounded score
        self._neg = np.empty(0)  # sum of 1 - p
        self._confusion = np.zeros(4)  # expected TP, FP, FN, TN
        self._count = 0

    def _add(self, scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> None:
        unique, inverse = np.unique(np.concatenate([self._scores, scores]), return_inverse=True)
        self._pos = np.bincount(inverse, weights=np.concatenate([self._pos, pos]), minlength=unique.size)
        self._neg = np.bincount(inverse, weights=np.concatenate([self._neg, neg]), minlength=unique.size)
        self._scores = unique

    def update(self, scores: np.ndarray) -> None:
        """Add a batch of raw scores (NaN scores are skipped)."""
        scores = np.asarray(scores, dtype=np.float64)
        scores = scores[np.isfinite(scores)]
        if scores.size == 0:
            return
        p = self.calibrator(scores)
        positive = scores >= self.threshold
        self._confusion += [p[positive].sum(), (1 - p[positive]).sum(), p[~positive].sum(), (1 - p[~positive]).sum()]
        self._count += scores.size
        self._add(np.round(scores, self.decimals), p, 1.0 - p)

    def merge(self, other: "EstimatedPerformance") -> "EstimatedPerformance":
        if (other.calibrator, other.threshold, other.decimals) != (self.calibrator, self.threshold, self.decimals):
            raise DetectorError("only estimates with the same calibrator, threshold and decimals can be merged")
        merged = EstimatedPerformance(self.calibrator, threshold=self.threshold, decimals=self.decimals)
        merged._scores, merged._pos, merged._neg = self._scores, self._pos, self._neg
        merged._add(other._scores, other._pos, other._neg)
        merged._confusion = self._confusion + other._confusion
        merged._count = self._count + other._count
        return merged

    @property
    def count(self) -> int:
        return self._count

    @property
    def accuracy(self) -> float:
        tp, fp, fn, tn = self._confusion
        return float((tp + tn) / self._count) if self._count else math.nan

    @property
    def precision(self) -> float:
        tp, fp, _, _ = self._confusion
        return float(tp / (tp + fp)) if tp + fp > 0 else math.nan

    @property
    def recall(self) -> float:
        tp, _, fn, _ = self._confusion
        return float(tp / (tp + fn)) if tp + fn > 0 else math.nan

    @property
    def f1(self) -> float:
        tp, fp, fn, _ = self._confusion
        return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn > 0 else math.nan

    @property
    def auc(self) -> float:
        """Expected AUC: every prediction is a positive of weight p and a negative of weight 1 - p."""
        total_pos, total_neg = self._pos.sum(), self._neg.sum()
        if total_pos <= 0 or total_neg <= 0:
            return math.nan
        below = np.cumsum(self._neg) - self._neg  # negative weight at strictly lower scores
        return float(np.sum(self._pos * (below + 0.5 * self._neg)) / (total_pos * total_neg))

    def snapshot(self) -> dict[str, float | int]:
        return {"estimated_count": self._count, "estimated_accuracy": self.accuracy,
                "estimated_precision": self.precision, "estimated_recall": self.recall,
                "estimated_f1": self.f1, "estimated_auc": self.auc}

    def to_state(self) -> dict[str, Any]:
        return {"scores": self._scores.tolist(), "pos": self._pos.tolist(), "neg": self._neg.tolist(),
                "confusion": self._confusion.tolist(), "count": self._count}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], calibrator: Calibrator, *, threshold: float = 0.5,
                   decimals: int = 4) -> "EstimatedPerformance":
        restored = cls(calibrator, threshold=threshold, decimals=decimals)
        try:
            restored._scores = np.asarray(state["scores"], dtype=np.float64)
            restored._pos = np.asarray(state["pos"], dtype=np.float64)
            restored._neg = np.asarray(state["neg"], dtype=np.float64)
            restored._confusion = np.asarray(state["confusion"], dtype=np.float64)
            restored._count = int(state["count"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DetectorError(f"malformed estimate state: {exc!r}") from exc
        if not (restored._scores.shape == restored._pos.shape == restored._neg.shape) or restored._confusion.shape != (4,):
            raise DetectorError("malformed estimate state: arrays of different lengths")
        return restored
