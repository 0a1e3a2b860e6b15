"""Is a window's realised performance significantly worse than the reference's?

- classifiers, `accuracy_drop`: H0 "accuracy >= baseline - margin"; with k correct of n labelled
  predictions, the one-sided binomial p-value P(X <= k | n, baseline - margin). Major when it is
  also significantly below baseline - 2 x margin.
- regressors, `mae_rise`: H0 "MAE <= baseline MAE x (1 + margin)"; the absolute errors' mean
  against it with their own standard error (a one-sided z-test: n is in the hundreds or more
  when it matters). Major when also significantly above baseline MAE x (1 + 2 x margin).
Too few labels (fewer than `min_labels`) give no verdict: a window is judged once enough of its
labels are in, and re-judged as more arrive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from detectors.errors import DetectorError


@dataclass(frozen=True)
class PerformanceVerdict:
    """A window's performance against the baseline.

    >>> PerformanceVerdict("accuracy_drop", 0.8, 0.85, 1e-5, "minor").fired
    True
    """

    statistic: str  # "accuracy_drop" or "mae_rise"
    value: float  # the window's accuracy or MAE
    threshold: float  # baseline - margin (accuracy) or baseline x (1 + margin) (MAE)
    pvalue: float
    severity: str  # "none", "minor", "major"

    @property
    def fired(self) -> bool:
        return self.severity != "none"


def _check(margin: float, alpha: float) -> None:
    if not 0 < margin < 1 or not 0 < alpha < 1:
        raise DetectorError("margin and alpha must lie in (0, 1)")


def accuracy_drop(correct: int, n: int, baseline: float, *, margin: float = 0.05, alpha: float = 0.01,
                  min_labels: int = 100) -> PerformanceVerdict | None:
    """None below `min_labels`.

    >>> [accuracy_drop(k, 1000, 0.90).severity for k in (760, 800, 880)]
    ['major', 'minor', 'none']
    """
    _check(margin, alpha)
    if n < min_labels:
        return None
    floor = max(baseline - margin, 0.0)
    p = float(stats.binom.cdf(correct, n, floor)) if floor > 0 else 1.0
    severity = "none"
    if p <= alpha:
        deeper = max(baseline - 2 * margin, 0.0)
        severity = "major" if deeper > 0 and stats.binom.cdf(correct, n, deeper) <= alpha else "minor"
    return PerformanceVerdict("accuracy_drop", correct / n, floor, p, severity)


def mae_rise(mae: float, mean_square_error: float, n: int, baseline_mae: float, *, margin: float = 0.05,
             alpha: float = 0.01, min_labels: int = 100) -> PerformanceVerdict | None:
    """From the window's MAE and MSE (E|e|^2 = E e^2, so the sd of |e| needs no extra state).

    >>> mae_rise(1.3, 2.5, 2000, 1.0).severity, mae_rise(1.01, 1.6, 2000, 1.0).severity
    ('major', 'none')
    """
    _check(margin, alpha)
    if n < min_labels or not math.isfinite(mae):
        return None
    ceiling = baseline_mae * (1 + margin)
    se = math.sqrt(max(mean_square_error - mae * mae, 0.0) / n)

    def pvalue(bound: float) -> float:
        if se == 0:
            return 0.0 if mae > bound else 1.0
        return float(stats.norm.sf((mae - bound) / se))

    p = pvalue(ceiling)
    severity = "none"
    if p <= alpha:
        severity = "major" if pvalue(baseline_mae * (1 + 2 * margin)) <= alpha else "minor"
    return PerformanceVerdict("mae_rise", mae, ceiling, p, severity)
