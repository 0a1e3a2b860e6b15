"""KS on the fine grid against scipy.stats.ks_2samp on the raw values, within the stated bound."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ks_2samp, kstwo

from detectors.errors import DetectorError
from detectors.stats.grid import FineGrid
from detectors.stats.ks import KolmogorovSmirnov, grid_ks, ks_pvalue
from tests.detectors._streams import SAMPLERS, grid_windows


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_grid_ks_brackets_scipy(name: str) -> None:
    for reference, window, hist in grid_windows(name, seed=100):
        result = grid_ks(hist)
        exact = ks_2samp(reference, window, method="asymp")
        # D_g <= D <= D_g + max_i min(r_i, w_i)
        assert result["ks"] <= exact.statistic + 1e-12
        assert exact.statistic <= result["ks"] + result["ks_error_bound"] + 1e-12
        # A smaller statistic gives a larger p-value: the grid test is conservative (up to the
        # < 1% difference of Stephens' formula from scipy's kstwo at these sizes).
        assert result["ks_pvalue"] >= exact.pvalue * 0.99


def test_scipy_method_is_scipys_asymptotic_pvalue() -> None:
    rng = np.random.default_rng(8)
    for n, m, shift in [(50_000, 5_000, 0.0), (50_000, 5_000, 0.03), (2_000, 300, 0.1), (700, 900, 0.2)]:
        a, b = rng.normal(size=n), rng.normal(shift, 1.0, size=m)
        exact = ks_2samp(a, b, method="asymp")
        assert ks_pvalue(exact.statistic, n, m, method="scipy") == pytest.approx(exact.pvalue, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(("n", "m", "tolerance"),
                         [(50_000, 5_000, 0.01), (5_000, 1_300, 0.015), (1_000, 120, 0.025), (40, 40, 0.055)])
def test_stephens_pvalue_is_close_to_scipys(n: int, m: int, tolerance: float) -> None:
    en = round(n * m / (n + m))
    d = np.linspace(0.0002, min(0.99, 2.2 / np.sqrt(en)), 150)  # p from 1 down to ~1e-4
    exact = kstwo.sf(d, en)
    fast = ks_pvalue(d, n, m)
    keep = exact >= 1e-3
    assert keep.sum() > 100
    assert np.max(np.abs(fast[keep] - exact[keep]) / exact[keep]) < tolerance


def test_pvalue_edge_cases() -> None:
    assert np.isnan(ks_pvalue(0.1, 0, 10))
    with pytest.raises(DetectorError):
        ks_pvalue(1.5, 10, 10)
    with pytest.raises(DetectorError):
        ks_pvalue(0.1, 10, 10, method="exact")


def test_bound_is_about_one_cell_on_a_200_cell_grid() -> None:
    rng = np.random.default_rng(9)
    ks = KolmogorovSmirnov(FineGrid.from_values(rng.normal(size=50_000), cells=200))
    ks.update(rng.normal(size=5_000))
    assert ks.error_bound <= 0.0051
    assert 0 <= ks.statistic <= 0.05 and 0 < ks.pvalue <= 1


def test_empty_window_gives_nan_and_state_round_trips() -> None:
    grid = FineGrid.from_values(np.arange(1_000.0))
    ks = KolmogorovSmirnov(grid)
    assert np.isnan(ks.statistic) and np.isnan(ks.pvalue)
    ks.update(np.arange(0.0, 500.0))
    again = KolmogorovSmirnov.from_state(json.loads(json.dumps(ks.to_state())), grid)
    assert again.snapshot() == ks.snapshot()
    assert ks.snapshot()["ks"] == pytest.approx(0.5, abs=0.006)
