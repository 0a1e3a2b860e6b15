"""All statistics of one feature's window in one dict, the input of DriftPolicy.

The worker keeps one GridHistogram per numeric feature (binned once) and one BinCounts per
categorical feature, and reads every statistic off them when the window closes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detectors.errors import DetectorError
from detectors.profile import CategoricalProfile
from detectors.psi import PSI_EPSILON, psi
from detectors.stats.chi_square import chi_square_test, reference_counts
from detectors.stats.excess import JS_CELLS, PSI_CELLS, REFERENCE_N, WASSERSTEIN_NOISE, WINDOW_N
from detectors.stats.grid import FineGrid
from detectors.stats.jensen_shannon import js_distance
from detectors.stats.ks import ks_from_counts
from detectors.stats.sketch import BinCounts, GridHistogram
from detectors.stats.wasserstein import wasserstein_from_counts


def batch_numeric_statistics(
    grid: FineGrid,
    counts: np.ndarray,
    minimum: np.ndarray,
    maximum: np.ndarray,
    *,
    bins: int = 10,
    base: float = 2.0,
    psi_edges: Sequence[float] | None = None,
    epsilon: float = PSI_EPSILON,
) -> dict[str, np.ndarray]:
    """numeric_statistics for many windows at once: counts (windows, cells), min/max (windows,).

    For backfills and simulations; every value equals numeric_statistics on the same window.
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != len(grid.counts):
        raise DetectorError("counts must have shape (windows, cells of the grid)")
    coarse = grid.quantile_groups(bins)
    js = js_distance(np.add.reduceat(grid.counts_array, coarse), np.add.reduceat(counts, coarse, axis=1), base=base)
    psi_groups = coarse if psi_edges is None else grid.cell_groups(psi_edges)
    shares = np.add.reduceat(grid.counts_array, psi_groups) / grid.count
    coarse_counts = np.add.reduceat(counts, psi_groups, axis=1)
    psis = np.array([psi(shares, row, epsilon) for row in coarse_counts])
    windows = counts.shape[0]
    sizes = {WINDOW_N: counts.sum(axis=1), REFERENCE_N: np.full(windows, grid.count),
             PSI_CELLS: np.full(windows, psi_groups.size), JS_CELLS: np.full(windows, coarse.size),
             WASSERSTEIN_NOISE: np.full(windows, grid.wasserstein_noise)}
    return {**ks_from_counts(grid, counts), **wasserstein_from_counts(grid, counts, minimum, maximum),
            "js": js, "psi": psis, **sizes}


def numeric_statistics(
    hist: GridHistogram,
    *,
    bins: int = 10,
    base: float = 2.0,
    psi_edges: Sequence[float] | None = None,
    epsilon: float = PSI_EPSILON,
) -> dict[str, float]:
    """KS (+ p-value, error bound), Wasserstein (+ std units, bound), JS and PSI of a numeric window.

    JS uses `bins` coarse bins of the grid; PSI uses `psi_edges` when given (the profile's edges,
    which must be grid edges: build the grid with extra_edges=profile.edges and the PSI is exactly
    the profile's), else the same coarse bins as JS.

    >>> from detectors.stats.grid import FineGrid
    >>> h = GridHistogram(FineGrid.from_values(np.arange(1000.0)))
    >>> h.update(np.arange(1000.0))
    >>> s = numeric_statistics(h)
    >>> s["ks"], s["js"], round(s["psi"], 12), s["ks_pvalue"]
    (0.0, 0.0, 0.0, 1.0)
    """
    lo, hi = hist.min, hist.max
    if hist.count and lo is None:  # only ±inf values: place them at the reference's range
        lo, hi = hist.grid.min, hist.grid.max
    batch = batch_numeric_statistics(
        hist.grid, hist.counts[None, :], np.array([np.nan if lo is None else lo]),
        np.array([np.nan if hi is None else hi]), bins=bins, base=base, psi_edges=psi_edges, epsilon=epsilon)
    return {key: float(value[0]) for key, value in batch.items()}


def categorical_statistics(
    counts: BinCounts, *, method: str = "two_sample", epsilon: float = PSI_EPSILON
) -> dict[str, float]:
    """Chi-square (+ p-value, dof), PSI and unseen share of a categorical window.

    >>> c = BinCounts(CategoricalProfile.from_values(["a", "b"] * 50))
    >>> c.update(["a", "b"] * 10)
    >>> s = categorical_statistics(c)
    >>> s["chi2"], s["chi2_pvalue"], s["unseen_share"]
    (0.0, 1.0, 0.0)
    """
    profile = counts.profile
    if not isinstance(profile, CategoricalProfile):
        raise DetectorError("categorical_statistics needs counts over a CategoricalProfile")
    window = counts.counts
    present = int(window.sum())
    test = chi_square_test(reference_counts(profile), window, method=method)
    return {**test, "psi": psi(np.asarray(profile.shares), window, epsilon),
            "unseen_share": float(window[-1]) / present if present else float("nan"),
            **categorical_sizes(profile, present)}


def categorical_sizes(profile: CategoricalProfile, present: int) -> dict[str, int]:
    """What the threshold tests (excess.py) need of a categorical window: its present values,
    the reference's, and the categories the reference holds (PSI's cells)."""
    return {WINDOW_N: present, REFERENCE_N: round(profile.count * (1.0 - profile.missing_share)),
            PSI_CELLS: sum(1 for share in profile.shares if share > 0)}
