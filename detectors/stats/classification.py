"""Classification metrics of one window, exact and mergeable.

BinaryClassificationMetrics keeps, for every distinct score, how many positives and negatives
had it. That table is all the exact metrics need: the confusion matrix at any threshold, AUC-ROC
(the Mann-Whitney count, ties counting 1/2, which is what roc_auc_score's trapezoids compute),
Gini = 2 AUC - 1 and the KS distance between the score distributions of positives and negatives
(as scipy.stats.ks_2samp). Merging adds counts, so it is exact. Memory grows with the number of
distinct scores (<= events); `decimals` rounds scores first to bound it (metrics are then exact
for the rounded scores: 4 decimals = at most 10,001 rows for probabilities).

MulticlassMetrics keeps the confusion counts of (true, predicted) label pairs.

Undefined ratios (no predicted positives for precision, no positives for recall) are 0.0, like
scikit-learn's default zero_division; AUC/Gini/KS are NaN unless both classes are present.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from detectors.errors import DetectorError


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


class BinaryClassificationMetrics:
    """Accuracy, precision, recall, F1 (binary and macro), AUC, Gini and KS of scored 0/1 labels.

    A score >= `threshold` predicts the positive class.

    >>> m = BinaryClassificationMetrics(threshold=0.5)
    >>> m.update(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    >>> m.auc, m.gini, m.accuracy, m.ks
    (0.75, 0.5, 0.75, 0.5)
    """

    name = "binary_classification"

    def __init__(self, *, threshold: float = 0.5, decimals: int | None = None) -> None:
        if not math.isfinite(threshold):
            raise DetectorError("threshold must be finite")
        if decimals is not None and (int(decimals) != decimals or decimals < 0):
            raise DetectorError("decimals must be None or a non-negative integer")
        self.threshold = threshold
        self.decimals = decimals
        self._scores = np.empty(0)
        self._pos = np.zeros(0, dtype=np.int64)
        self._neg = np.zeros(0, dtype=np.int64)

    def _add(self, scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> None:
        all_scores = np.concatenate([self._scores, scores])
        unique, inverse = np.unique(all_scores, return_inverse=True)
        # Counts stay far below 2^53, so float64 bincount sums are exact integers.
        self._pos = np.rint(np.bincount(inverse, weights=np.concatenate([self._pos, pos]),
                                        minlength=unique.size)).astype(np.int64)
        self._neg = np.rint(np.bincount(inverse, weights=np.concatenate([self._neg, neg]),
                                        minlength=unique.size)).astype(np.int64)
        self._scores = unique

    def update(self, scores: np.ndarray, labels: np.ndarray) -> None:
        """Add a batch of scores (finite) and labels (0/1 or bool)."""
        try:
            s = np.asarray(scores, dtype=np.float64).ravel()
            y = np.asarray(labels, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise DetectorError(f"numeric scores and 0/1 labels expected: {exc}") from exc
        if s.shape != y.shape:
            raise DetectorError("scores and labels must have the same length")
        if not np.isfinite(s).all():
            raise DetectorError("scores must be finite")
        if not np.isin(y, (0.0, 1.0)).all():
            raise DetectorError("labels must be 0/1")
        if self.decimals is not None:
            s = np.round(s, self.decimals)
        s = s + 0.0  # -0.0 -> 0.0, one key per value
        positive = (y == 1.0).astype(np.int64)
        self._add(s, positive, 1 - positive)

    def merge(self, other: "BinaryClassificationMetrics") -> "BinaryClassificationMetrics":
        if (other.threshold, other.decimals) != (self.threshold, self.decimals):
            raise DetectorError("only metrics with equal threshold and decimals can be merged")
        merged = BinaryClassificationMetrics(threshold=self.threshold, decimals=self.decimals)
        merged._scores, merged._pos, merged._neg = self._scores, self._pos, self._neg
        merged._add(other._scores, other._pos, other._neg)
        return merged

    @property
    def count(self) -> int:
        return int(self._pos.sum() + self._neg.sum())

    def _confusion(self) -> tuple[int, int, int, int]:
        above = self._scores >= self.threshold
        tp, fp = int(self._pos[above].sum()), int(self._neg[above].sum())
        return tp, fp, int(self._neg.sum()) - fp, int(self._pos.sum()) - tp

    @property
    def accuracy(self) -> float:
        tp, fp, tn, fn = self._confusion()
        return _ratio(tp + tn, tp + fp + tn + fn) if self.count else math.nan

    @property
    def precision(self) -> float:
        tp, fp, _, _ = self._confusion()
        return _ratio(tp, tp + fp)

    @property
    def recall(self) -> float:
        tp, _, _, fn = self._confusion()
        return _ratio(tp, tp + fn)

    @property
    def f1(self) -> float:
        tp, fp, _, fn = self._confusion()
        return _ratio(2 * tp, 2 * tp + fp + fn)

    @property
    def macro_f1(self) -> float:
        """Mean F1 of the classes present among labels or predictions (as scikit-learn)."""
        tp, fp, tn, fn = self._confusion()
        scores = [_ratio(2 * t, 2 * t + a + b) for t, a, b, present in
                  ((tn, fn, fp, tn + fn + fp > 0), (tp, fp, fn, tp + fp + fn > 0)) if present]
        return sum(scores) / len(scores) if scores else math.nan

    @property
    def auc(self) -> float:
        """P(score of a positive > score of a negative) + P(equal) / 2, from integer counts."""
        positives, negatives = int(self._pos.sum()), int(self._neg.sum())
        if not positives or not negatives:
            return math.nan
        below = np.cumsum(self._neg) - self._neg
        wins = int(np.dot(self._pos, 2 * below + self._neg))  # < 2 P N < 2^63 below 3e9 events
        return wins / (2 * positives * negatives)

    @property
    def gini(self) -> float:
        return 2.0 * self.auc - 1.0

    @property
    def ks(self) -> float:
        """Largest gap between the score CDFs of positives and negatives."""
        positives, negatives = int(self._pos.sum()), int(self._neg.sum())
        if not positives or not negatives:
            return math.nan
        return float(np.abs(np.cumsum(self._pos) / positives - np.cumsum(self._neg) / negatives).max())

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count, "positives": int(self._pos.sum()), "accuracy": self.accuracy,
                "precision": self.precision, "recall": self.recall, "f1": self.f1, "macro_f1": self.macro_f1,
                "auc": self.auc, "gini": self.gini, "ks": self.ks, "distinct_scores": int(self._scores.size)}

    def to_state(self) -> dict[str, Any]:
        return {"metrics": self.name, "params": {"threshold": self.threshold, "decimals": self.decimals},
                "scores": self._scores.tolist(), "positives": self._pos.tolist(), "negatives": self._neg.tolist()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "BinaryClassificationMetrics":
        if not isinstance(state, Mapping) or state.get("metrics") != cls.name:
            raise DetectorError("state is not a binary classification metrics state")
        try:
            restored = cls(**state["params"])
            scores = np.asarray(state["scores"], dtype=np.float64)
            pos = np.asarray(state["positives"], dtype=np.int64)
            neg = np.asarray(state["negatives"], dtype=np.int64)
        except (KeyError, TypeError, ValueError) as exc:
            raise DetectorError(f"malformed classification state: {exc!r}") from exc
        if not (scores.shape == pos.shape == neg.shape) or np.any(np.diff(scores) <= 0):
            raise DetectorError("classification state needs strictly increasing scores with one count each")
        restored._scores, restored._pos, restored._neg = scores, pos, neg
        return restored


class MulticlassMetrics:
    """Accuracy and macro precision / recall / F1 over (predicted, true) label pairs.

    Labels are strings or ints (they round-trip through JSON unchanged).

    >>> m = MulticlassMetrics()
    >>> m.update(["a", "b", "b", "c"], ["a", "b", "c", "c"])
    >>> m.accuracy, round(m.macro_f1, 4)
    (0.75, 0.7778)
    """

    name = "multiclass_classification"

    def __init__(self) -> None:
        self._pairs: Counter = Counter()

    def update(self, predictions: Sequence[object] | np.ndarray, labels: Sequence[object] | np.ndarray) -> None:
        pred = predictions.tolist() if isinstance(predictions, np.ndarray) else list(predictions)
        true = labels.tolist() if isinstance(labels, np.ndarray) else list(labels)
        if len(pred) != len(true):
            raise DetectorError("predictions and labels must have the same length")
        batch = Counter(zip(true, pred))
        for pair in batch:
            if any(type(v) not in (str, int) for v in pair):
                raise DetectorError(f"labels must be str or int, got {pair!r}")
        self._pairs.update(batch)

    def merge(self, other: "MulticlassMetrics") -> "MulticlassMetrics":
        merged = MulticlassMetrics()
        merged._pairs = self._pairs + other._pairs
        return merged

    @property
    def count(self) -> int:
        return sum(self._pairs.values())

    def _per_class(self) -> list[tuple[int, int, int]]:
        classes = sorted({c for pair in self._pairs for c in pair}, key=lambda c: (isinstance(c, str), c))
        rows = []
        for c in classes:
            tp = self._pairs.get((c, c), 0)
            predicted = sum(n for (t, p), n in self._pairs.items() if p == c)
            actual = sum(n for (t, p), n in self._pairs.items() if t == c)
            rows.append((tp, predicted - tp, actual - tp))
        return rows

    def _macro(self, metric) -> float:
        rows = self._per_class()
        return sum(metric(*row) for row in rows) / len(rows) if rows else math.nan

    @property
    def accuracy(self) -> float:
        n = self.count
        return sum(v for (t, p), v in self._pairs.items() if t == p) / n if n else math.nan

    @property
    def macro_precision(self) -> float:
        return self._macro(lambda tp, fp, fn: _ratio(tp, tp + fp))

    @property
    def macro_recall(self) -> float:
        return self._macro(lambda tp, fp, fn: _ratio(tp, tp + fn))

    @property
    def macro_f1(self) -> float:
        return self._macro(lambda tp, fp, fn: _ratio(2 * tp, 2 * tp + fp + fn))

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count, "accuracy": self.accuracy, "macro_precision": self.macro_precision,
                "macro_recall": self.macro_recall, "macro_f1": self.macro_f1, "classes": len(self._per_class())}

    def to_state(self) -> dict[str, Any]:
        pairs = sorted(self._pairs.items(), key=lambda kv: tuple((isinstance(c, str), c) for c in kv[0]))
        return {"metrics": self.name, "pairs": [[t, p, n] for (t, p), n in pairs]}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "MulticlassMetrics":
        if not isinstance(state, Mapping) or state.get("metrics") != cls.name:
            raise DetectorError("state is not a multiclass metrics state")
        restored = cls()
        try:
            for true, pred, n in state["pairs"]:
                if type(true) not in (str, int) or type(pred) not in (str, int):
                    raise DetectorError("labels must be str or int")
                restored._pairs[(true, pred)] = int(n)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DetectorError):
                raise
            raise DetectorError(f"malformed multiclass state: {exc!r}") from exc
        return restored
