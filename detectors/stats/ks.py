"""Two-sample Kolmogorov-Smirnov statistic of a window against the reference, on the fine grid.

Only the cell counts of both samples are known, so the statistic is evaluated where both CDFs are
known exactly: just below every grid edge, D_g = max_i |F_ref(e_i-) - F_win(e_i-)|.

Error, exactly: D_g <= D <= D_g + max_i min(r_i, w_i), where D is ks_2samp's statistic on the
raw values and r_i, w_i are the reference and window shares of cell i. (D_g is a limit of
differences that D bounds; inside a cell [a, b) each CDF moves by at most its own cell share, so
F_ref(x) - F_win(x) <= F_ref(b-) - F_win(a-), which is <= D_g + w_i and also <= D_g + r_i.) On a
200-quantile grid r_i <= 0.5% except in atom cells, so D is underestimated by at most ~0.005 and
the p-value from D_g is conservative (never smaller than the same formula's p-value of D).
Measured on 50,000 vs 5,000 values: D - D_g < 0.001 for shifts up to 1 std, at most 0.0034
(4 std); 0 for integer data (atom cells).

p-value: asymptotic, two-sided, with the effective size en = round(n*m/(n+m)) of the present
reference and window counts (as scipy). method="stephens" (default, used by the statistics): the
Kolmogorov limit with Stephens' finite-sample correction, Q((sqrt(en) + 0.12 + 0.11/sqrt(en)) * D),
the formula of scipy's ks_2samp before 1.5; ~2 us and vectorised. method="scipy": today's
ks_2samp(method="asymp") value, kstwo.sf(D, en), 0.25-6 ms per call (too slow for 30 features x
every window). For p >= 1e-3 the two differ by < 1% (relative) for en >= 4,000, < 1.5% for
en >= 1,000, < 2.5% for en >= 100 and < 5.5% for en >= 20 (scanned); no BH decision at
alpha = 0.05 hinges on that.
"""

from __future__ import annotations

import numpy as np
from scipy import special
from scipy.stats import kstwo

from detectors.errors import DetectorError
from detectors.stats._two_sample import TwoSampleStatistic
from detectors.stats.grid import FineGrid
from detectors.stats.sketch import GridHistogram


def ks_pvalue(statistic, n, m, *, method: str = "stephens"):
    """Asymptotic two-sided p-value of two-sample KS statistics for sample sizes n and m (arrays ok).

    >>> round(ks_pvalue(0.02, 50_000, 5_000), 4), round(ks_pvalue(0.02, 50_000, 5_000, method="scipy"), 4)
    (0.052, 0.052)
    """
    d = np.asarray(statistic, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    if np.any(d < 0) or np.any(d > 1):
        raise DetectorError("a KS statistic lies in [0, 1]")
    with np.errstate(invalid="ignore", divide="ignore"):
        en = np.round(np.where((n > 0) & (m > 0), n * m / (n + m), np.nan))
    if method == "stephens":
        root = np.sqrt(en)
        p = special.kolmogorov((root + 0.12 + 0.11 / root) * d)
    elif method == "scipy":
        p = kstwo.sf(d, en)
    else:
        raise DetectorError("method must be 'stephens' or 'scipy'")
    p = np.where(np.isnan(en), np.nan, np.clip(p, 0.0, 1.0))
    return float(p) if p.ndim == 0 else p


def ks_from_counts(grid: FineGrid, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised core: window counts of shape (..., cells) -> arrays of D_g, p-value and bound."""
    counts = np.asarray(counts)
    n = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts / n[..., None]
        # Same operations as grid.cdf, so identical histograms give exactly 0.
        window_cdf = np.cumsum(counts, axis=-1)[..., :-1] / n[..., None]
        if window_cdf.shape[-1]:
            statistic = np.abs(grid.cdf - window_cdf).max(axis=-1)
        else:
            statistic = np.where(n > 0, 0.0, np.nan)
        bound = np.minimum(grid.shares, shares).max(axis=-1)
    empty = n == 0
    statistic = np.where(empty, np.nan, statistic)
    pvalue = ks_pvalue(np.where(empty, 0.0, statistic), grid.count, n)
    return {"ks": statistic, "ks_pvalue": np.where(empty, np.nan, pvalue),
            "ks_error_bound": np.where(empty, np.nan, bound)}


def grid_ks(hist: GridHistogram) -> dict[str, float]:
    """KS statistic on the grid, its asymptotic p-value and the bound on D - D_g (see module doc).

    >>> grid = FineGrid.from_values(np.arange(1000.0), cells=10)
    >>> h = GridHistogram(grid); h.update(np.arange(500.0, 1000.0))
    >>> grid_ks(h)["ks"]
    0.5
    """
    return {k: float(v) for k, v in ks_from_counts(hist.grid, hist.counts).items()}


class KolmogorovSmirnov(TwoSampleStatistic):
    """KS test of a numeric window against a FineGrid reference; mergeable.

    >>> rng = np.random.default_rng(7)
    >>> ks = KolmogorovSmirnov(FineGrid.from_values(rng.normal(size=50_000)))
    >>> ks.update(rng.normal(0.5, 1.0, size=5_000))
    >>> round(ks.statistic, 2), ks.pvalue < 1e-12, ks.error_bound <= 0.006
    (0.2, True, True)
    """

    name = "ks"

    def __init__(self, reference: FineGrid) -> None:
        self.reference = reference
        self._window = GridHistogram(reference)

    def _result(self) -> dict[str, float]:
        return grid_ks(self._window)

    @classmethod
    def _window_from_state(cls, state, reference):
        return GridHistogram.from_state(state, reference)

    @property
    def statistic(self) -> float:
        return self._result()["ks"]

    @property
    def pvalue(self) -> float:
        return self._result()["ks_pvalue"]

    @property
    def error_bound(self) -> float:
        """D_g <= D <= D_g + error_bound for the raw-data statistic D."""
        return self._result()["ks_error_bound"]
