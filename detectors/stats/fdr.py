"""Benjamini-Hochberg adjustment across the features of one window.

With m p-values sorted ascending, p_(1) <= ... <= p_(m), the adjusted value (q-value) of the
k-th is min over j >= k of m * p_(j) / j, capped at 1; rejecting every q <= alpha keeps the
expected share of false discoveries among the rejections at or below alpha (independent or
positively dependent tests), and under "nothing drifted" the chance of any rejection at alpha.
Same result as scipy.stats.false_discovery_control(p, method="bh").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detectors.errors import DetectorError


def benjamini_hochberg(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """BH-adjusted p-values, in the input order; NaN stays NaN and does not count in m.

    >>> benjamini_hochberg([0.01, 0.04, 0.03, float("nan"), 0.5]).round(4).tolist()
    [0.04, 0.0533, 0.0533, nan, 0.5]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise DetectorError("p-values must be a flat sequence")
    present = ~np.isnan(p)
    if ((p[present] < 0) | (p[present] > 1)).any():
        raise DetectorError("p-values must lie in [0, 1]")
    adjusted = np.full(p.shape, np.nan)
    values = p[present]
    m = values.size
    if m == 0:
        return adjusted
    order = np.argsort(values, kind="stable")
    scaled = values[order] * m / np.arange(1, m + 1)
    # Running minimum from the largest p-value down keeps the q-values monotone in p.
    q = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = q
    adjusted[present] = out
    return adjusted
