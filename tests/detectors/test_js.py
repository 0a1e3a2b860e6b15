"""Jensen-Shannon distance: equal to scipy's jensenshannon on the same bins."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from detectors.errors import DetectorError
from detectors.stats.grid import FineGrid
from detectors.stats.jensen_shannon import JensenShannon, grid_js, js_distance


@pytest.mark.parametrize("base", [2.0, np.e, 10.0])
def test_js_distance_equals_scipy(base: float) -> None:
    rng = np.random.default_rng(21)
    for size in (2, 10, 57, 200):
        for _ in range(20):
            p = rng.integers(0, 50, size).astype(float)
            q = rng.integers(0, 50, size).astype(float)
            p[rng.random(size) < 0.2] = 0  # empty bins on either side
            q[rng.random(size) < 0.2] = 0
            if p.sum() == 0 or q.sum() == 0:
                continue
            assert js_distance(p, q, base=base) == pytest.approx(jensenshannon(p, q, base=base), abs=1e-9)


def test_grid_js_is_scipy_on_the_coarse_bins() -> None:
    rng = np.random.default_rng(22)
    grid = FineGrid.from_values(rng.gamma(2.0, size=50_000))
    for bins in (5, 10, 20):
        js = JensenShannon(grid, bins=bins)
        js.update(rng.gamma(2.2, size=5_000))
        starts = grid.quantile_groups(bins)
        reference = np.add.reduceat(grid.counts_array, starts)
        window = np.add.reduceat(js.window.counts, starts)
        assert len(reference) == bins
        assert js.distance == pytest.approx(jensenshannon(reference, window, base=2.0), abs=1e-9)
        assert grid_js(js.window, bins=bins)["js"] == js.distance


def test_js_bins_are_reference_quantiles() -> None:
    grid = FineGrid.from_values(np.random.default_rng(23).normal(size=50_000))
    shares = np.add.reduceat(grid.counts_array, grid.quantile_groups(10)) / grid.count
    np.testing.assert_allclose(shares, 0.1, atol=0.003)


def test_js_edge_cases() -> None:
    assert np.isnan(js_distance(np.array([1.0, 2.0]), np.array([0.0, 0.0])))
    assert js_distance(np.array([1.0, 0.0]), np.array([0.0, 3.0]), base=2.0) == 1.0
    with pytest.raises(DetectorError):
        js_distance(np.array([1.0]), np.array([1.0, 2.0]))
    with pytest.raises(DetectorError):
        js_distance(np.array([1.0, -1.0]), np.array([1.0, 2.0]))
    with pytest.raises(DetectorError):
        JensenShannon(FineGrid.from_values(np.arange(10.0)), base=1.0)


def test_state_round_trip_keeps_parameters() -> None:
    grid = FineGrid.from_values(np.arange(1_000.0))
    js = JensenShannon(grid, bins=7, base=np.e)
    js.update(np.arange(0.0, 1_000.0, 2.5))
    again = JensenShannon.from_state(json.loads(json.dumps(js.to_state())), grid)
    assert (again.bins, again.base, again.snapshot()) == (7, np.e, js.snapshot())
