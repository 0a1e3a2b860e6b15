"""Regression metrics of one window from exact sums: RMSE, MSE, MAE, R^2 and bias; mergeable.

The state is n and five exact sums (ExactSum): of y, y^2, e^2, |e| and e, with e = y - y_pred
rounded once as scikit-learn computes it and squares split exactly. Merging adds integers, so any
split of a window merges to exactly the same state, and every metric is rounded once at the end.
R^2 = 1 - SSE / SST with SST = sum y^2 - (sum y)^2 / n evaluated in exact rational arithmetic, so
a large mean with a small spread loses no precision. As scikit-learn, R^2 is 1.0 for a constant
target predicted exactly and 0.0 for a constant target predicted with any error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from detectors.errors import DetectorError
from detectors.stats.exact_sum import ExactSum, squares

_SUMS = ("y", "yy", "ee", "abs_e", "e")


class RegressionMetrics:
    """RMSE, MAE, R^2 (and MSE, bias) of a window of (prediction, target) pairs.

    >>> m = RegressionMetrics()
    >>> m.update(np.array([2.5, 0.0, 2.0, 8.0]), np.array([3.0, -0.5, 2.0, 7.0]))
    >>> m.mae, round(m.rmse, 6), round(m.r2, 6)
    (0.5, 0.612372, 0.948608)
    """

    name = "regression"

    def __init__(self) -> None:
        self._n = 0
        self._sums = {key: ExactSum() for key in _SUMS}

    @property
    def count(self) -> int:
        return self._n

    def update(self, predictions: np.ndarray, targets: np.ndarray) -> None:
        """Add a batch of predictions and their targets (finite numbers, same length)."""
        try:
            pred = np.asarray(predictions, dtype=np.float64).ravel()
            y = np.asarray(targets, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise DetectorError(f"numeric predictions and targets expected: {exc}") from exc
        if pred.shape != y.shape:
            raise DetectorError("predictions and targets must have the same length")
        if not (np.isfinite(pred).all() and np.isfinite(y).all()):
            raise DetectorError("predictions and targets must be finite")
        e = y - pred
        self._sums["y"].add(y)
        self._sums["yy"].add(np.concatenate(squares(y)))
        self._sums["ee"].add(np.concatenate(squares(e)))
        self._sums["abs_e"].add(np.abs(e))
        self._sums["e"].add(e)
        self._n += int(y.size)

    def merge(self, other: "RegressionMetrics") -> "RegressionMetrics":
        merged = RegressionMetrics()
        merged._n = self._n + other._n
        merged._sums = {key: self._sums[key].merge(other._sums[key]) for key in _SUMS}
        return merged

    def _mean(self, key: str) -> float:
        return float(self._sums[key].exact / self._n) if self._n else math.nan

    @property
    def mse(self) -> float:
        return self._mean("ee")

    @property
    def rmse(self) -> float:
        return math.sqrt(self.mse) if self._n else math.nan

    @property
    def mae(self) -> float:
        return self._mean("abs_e")

    @property
    def bias(self) -> float:
        """Mean of prediction - target (positive: the model overestimates)."""
        return -self._mean("e") if self._n else math.nan

    @property
    def r2(self) -> float:
        if not self._n:
            return math.nan
        sse = self._sums["ee"].exact
        sst = self._sums["yy"].exact - self._sums["y"].exact ** 2 / self._n
        if sst == 0:
            return 1.0 if sse == 0 else 0.0
        return float(1 - sse / sst)

    def snapshot(self) -> dict[str, Any]:
        return {"count": self._n, "rmse": self.rmse, "mse": self.mse, "mae": self.mae, "r2": self.r2,
                "bias": self.bias}

    def to_state(self) -> dict[str, Any]:
        return {"metrics": self.name, "count": self._n, "sums": {k: s.to_state() for k, s in self._sums.items()}}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "RegressionMetrics":
        if not isinstance(state, Mapping) or state.get("metrics") != cls.name:
            raise DetectorError("state is not a regression metrics state")
        try:
            restored = cls()
            restored._n = int(state["count"])
            restored._sums = {key: ExactSum.from_state(state["sums"][key]) for key in _SUMS}
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DetectorError):
                raise
            raise DetectorError(f"malformed regression metrics state: {exc!r}") from exc
        return restored
