"""Population Stability Index.

PSI = sum_i (a_i - e_i) * ln(a_i / e_i), over the bins of the reference profile, where e_i is the
reference share and a_i the window share of bin i.

Smoothing of empty bins: a share of exactly 0 (on either side) is replaced by PSI_EPSILON = 1e-4
before the sum, the convention of Evidently and most PSI write-ups. Shares are not renormalised
afterwards, so an unsmoothed bin contributes exactly what it would without smoothing. One empty
bin facing a share q contributes (q - 1e-4) * ln(q / 1e-4): about 0.07 for q = 1%.
"""

from __future__ import annotations

import numpy as np

PSI_EPSILON = 1e-4


def psi(expected_shares: np.ndarray, actual_counts: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """PSI of window counts against reference shares; NaN when the window has no values.

    >>> round(psi(np.array([0.5, 0.5]), np.array([50, 50])), 12)
    0.0
    >>> round(psi(np.array([0.5, 0.5]), np.array([80, 20])), 4)
    0.4159
    """
    expected = np.asarray(expected_shares, dtype=np.float64)
    counts = np.asarray(actual_counts, dtype=np.float64)
    if expected.shape != counts.shape:
        from detectors.errors import DetectorError

        raise DetectorError(f"PSI needs as many window counts as reference bins ({counts.shape} vs {expected.shape})")
    total = counts.sum()
    if total <= 0:
        return float("nan")
    actual = counts / total
    expected = np.where(expected == 0, epsilon, expected)
    actual = np.where(actual == 0, epsilon, actual)
    return float(np.sum((actual - expected) * np.log(actual / expected)))
