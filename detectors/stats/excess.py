"""Is an effect significantly above its threshold? One-sided p-values at the window's own size.

A drift threshold says how large a change matters ("KS of 0.05", "W1 of 0.125 std"); the point
estimate of an effect is the true effect plus sampling noise whose size is about 1/sqrt(n). At
small n that noise alone reaches the threshold (at 2,000 events the KS threshold of 0.05 is ~2
noise sigmas), so "estimate >= threshold and the distributions differ" fires on drift-free data.
The question a threshold asks is H0: effect <= t against H1: effect > t, and its p-value is the
chance that noise alone lifts an effect of exactly t to the estimate.

All four effects are distances (or, for PSI, the square of one to second order), so the estimate
obeys a triangle inequality: estimate <= true effect + noise radius, where the noise radius is the
distance the two samples' empirical distributions lie from their populations. Hence

    P(estimate >= x | effect <= t) <= P(radius >= x - t),

and the p-value is the tail of the radius at x - t. With n window and m reference values and
s^2 = 1/n + 1/m (the two samples' noise adds), the radii and their tails are:

- KS: the radius is sup_x |(F_n - F)(x) - (G_m - G)(x)|, whose tail is Kolmogorov's:
  P(radius >= r) ~ K(r * sqrt(nm / (n + m))) (scipy's kstwobign; asymptotically exact under
  no drift, and Massart's 2 exp(-2 lambda^2) bounds it at every n).
- Jensen-Shannon distance (base 2, on k coarse bins): to second order JS^2 = sum (p - q)^2 /
  (8 ln 2 * p), a Euclidean norm of the share differences; sampling adds a vector whose squared
  norm is s^2 * chi2(k - 1) / (8 ln 2) (Pearson's statistic), so P(radius >= r) =
  chi2.sf(8 ln 2 * r^2 / s^2, k - 1).
- PSI (Jeffreys divergence on k bins): to second order PSI = sum (p - q)^2 / p, the square of
  the same kind of norm, so its square root has the radius with P(radius >= r) =
  chi2.sf(r^2 / s^2, k - 1), and the test compares sqrt(PSI) - sqrt(t) with it.
- Wasserstein-1 / std: the radius is integral |(F_n - F) - (G_m - G)| dx / std, a supremum of a
  Gaussian process in the limit. Its mean is s * mu with mu = sqrt(2/pi) * integral
  sqrt(F (1 - F)) dx / std (E|N(0, v)| = sqrt(2v/pi), computed on the reference grid, see
  `wasserstein_noise`), and its Lipschitz constant is s (for |h| <= 1, Var integral h B(F) dx =
  Var H(X) <= Var X with H' = h), so Borell-TIS gives P(radius >= s (mu + u)) <= exp(-u^2 / 2).
  The estimate tested is W1 minus the grid's error bound (the grid places a value only up to its
  cell). That also keeps the Gaussian limit honest for heavy tails: one window value far beyond
  the reference's range (lognormal sigma 1.5: W1 0.5 std in a drift-free 500-event window) falls
  in a wide outer cell whose bound discounts it, while KS, JS and PSI still judge the body.

These are upper bounds, so the tests are conservative: a drift-free window has effect 0, far
below t, and the chance that it passes is far below the test's level (figures in
tests/detectors/test_calibration.py). The policy adjusts these p-values across a window's
features with Benjamini-Hochberg, as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats

from detectors.errors import DetectorError

# Keys of a feature's statistics that give the sample sizes and shapes the tests need.
WINDOW_N, REFERENCE_N = "window_n", "reference_n"
PSI_CELLS, JS_CELLS, WASSERSTEIN_NOISE = "psi_cells", "js_cells", "wasserstein_noise"
WASSERSTEIN_BOUND = "wasserstein_std_error_bound"
_LN2 = math.log(2.0)


def _size(stats_: Mapping[str, float], key: str) -> float:
    value = stats_.get(key)
    if value is None:
        raise DetectorError(f"testing an effect against its threshold needs {key!r} among the statistics")
    return float(value)


def _noise_scale(stats_: Mapping[str, float]) -> float:
    """s = sqrt(1/n + 1/m); infinite for an empty side."""
    n, m = _size(stats_, WINDOW_N), _size(stats_, REFERENCE_N)
    if n <= 0 or m <= 0:
        return math.inf
    return math.sqrt(1.0 / n + 1.0 / m)


def ks_excess(value: float, threshold: float, stats_: Mapping[str, float]) -> float:
    """P-value of "KS <= threshold" given the estimate `value`.

    >>> round(ks_excess(0.10, 0.05, {"window_n": 5000, "reference_n": 50000}), 12) < 1e-6
    True
    >>> ks_excess(0.04, 0.05, {"window_n": 5000, "reference_n": 50000})
    1.0
    """
    s = _noise_scale(stats_)
    if math.isnan(value) or value <= threshold or math.isinf(s):
        return 1.0
    return float(stats.kstwobign.sf((value - threshold) / s))


def js_excess(value: float, threshold: float, stats_: Mapping[str, float]) -> float:
    """P-value of "JS distance (base 2) <= threshold" given the estimate `value`."""
    s, k = _noise_scale(stats_), _size(stats_, JS_CELLS)
    if math.isnan(value) or value <= threshold or math.isinf(s):
        return 1.0
    return float(stats.chi2.sf(8.0 * _LN2 * ((value - threshold) / s) ** 2, max(k - 1.0, 1.0)))


def psi_excess(value: float, threshold: float, stats_: Mapping[str, float]) -> float:
    """P-value of "PSI <= threshold" given the estimate `value`.

    One window of one row drawn from the reference can have PSI 8 (its empty bins are smoothed);
    it is nowhere near significant:

    >>> round(psi_excess(8.3, 0.2, {"window_n": 1, "reference_n": 1000, "psi_cells": 10}), 2)
    0.75
    """
    s, k = _noise_scale(stats_), _size(stats_, PSI_CELLS)
    if math.isnan(value) or value <= threshold or math.isinf(s):
        return 1.0
    radius = math.sqrt(value) - math.sqrt(threshold)
    return float(stats.chi2.sf((radius / s) ** 2, max(k - 1.0, 1.0)))


def wasserstein_excess(value: float, threshold: float, stats_: Mapping[str, float]) -> float:
    """P-value of "W1 / std <= threshold" given the estimate `value` (Borell-TIS, module doc),
    tested at the estimate's lower end: the grid knows W1 only up to its error bound."""
    s, mu = _noise_scale(stats_), _size(stats_, WASSERSTEIN_NOISE)
    low = value - _size(stats_, WASSERSTEIN_BOUND)
    if math.isnan(low) or low <= threshold or math.isinf(s):
        return 1.0
    if math.isinf(low):
        return 0.0
    u = (low - threshold) / s - mu
    return 1.0 if u <= 0 else float(math.exp(-0.5 * u * u))


def wasserstein_noise(edges: np.ndarray, cdf: np.ndarray, lo: float, hi: float, std: float) -> float:
    """mu = sqrt(2/pi) * integral sqrt(F (1 - F)) dx / std for the reference CDF F that is linear
    between `lo`, the inner `edges` and `hi` (its values `cdf` at the edges): the mean W1/std
    radius of one sample of n values is mu / sqrt(n): 0.80 * 1.61 ~ 1.29 for a normal reference.
    Edges outside [lo, hi] (the grid's empty extension cells) add nothing.

    >>> x = np.linspace(-6, 6, 2001)
    >>> round(wasserstein_noise(x[1:-1], stats.norm.cdf(x[1:-1]), -6.0, 6.0, 1.0), 2)
    1.29
    """
    if not std > 0 or not math.isfinite(std):
        return 0.0
    points = np.concatenate([[lo], np.clip(np.asarray(edges, dtype=np.float64), lo, hi), [hi]])
    values = np.concatenate([[0.0], np.asarray(cdf, dtype=np.float64), [1.0]])
    widths = np.diff(points)
    a, b = values[:-1], values[1:]
    # Simpson's rule on each linear piece of F: exact enough for a concave sqrt(F (1 - F)).
    g = lambda f: np.sqrt(np.clip(f * (1.0 - f), 0.0, None))  # noqa: E731
    integral = float(np.sum(widths * (g(a) + 4.0 * g((a + b) / 2.0) + g(b)) / 6.0))
    return math.sqrt(2.0 / math.pi) * integral / std
