"""Wasserstein-1 on the fine grid against scipy.stats.wasserstein_distance, within the stated bound."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from detectors.stats.grid import FineGrid
from detectors.stats.wasserstein import Wasserstein, grid_wasserstein
from tests.detectors._streams import SAMPLERS, grid_windows


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_grid_wasserstein_within_bound_of_scipy(name: str) -> None:
    for reference, window, hist in grid_windows(name, seed=200):
        result = grid_wasserstein(hist)
        exact = wasserstein_distance(reference, window)
        assert abs(result["wasserstein"] - exact) <= result["wasserstein_error_bound"] + 1e-9
        assert result["wasserstein_std"] == pytest.approx(result["wasserstein"] / reference.std())


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_typical_error_is_below_a_hundredth_of_a_std(name: str) -> None:
    # The tail and extension cells of the grid keep heavy tails and moderate shifts accurate.
    for reference, window, hist in grid_windows(name, seed=300, shifts=(0.0, 0.1, 0.25, 1.0)):
        error = abs(grid_wasserstein(hist)["wasserstein"] - wasserstein_distance(reference, window))
        assert error < 0.01 * reference.std()


def test_smooth_data_is_far_more_accurate_than_the_bound() -> None:
    # The bound is worst case; for a smooth density inside the reference range the error is tiny.
    rng = np.random.default_rng(12)
    reference, window = rng.normal(size=50_000), rng.normal(0.25, 1.0, size=5_000)
    w = Wasserstein(FineGrid.from_values(reference))
    w.update(window)
    error = abs(w.distance - wasserstein_distance(reference, window))
    assert error < 0.01 < w.error_bound
    assert w.distance_std == pytest.approx(0.25, abs=0.03)


def test_window_outside_the_reference_range() -> None:
    rng = np.random.default_rng(13)
    reference = rng.uniform(0, 1, 50_000)
    w = Wasserstein(FineGrid.from_values(reference))
    w.update(rng.uniform(3, 4, 5_000))
    assert abs(w.distance - wasserstein_distance(reference, rng.uniform(3, 4, 5_000))) < 0.02


def test_constant_reference_and_empty_window() -> None:
    grid = FineGrid.from_values(np.full(50, 2.0))
    w = Wasserstein(grid)
    assert np.isnan(w.distance)
    w.update(np.array([3.0, 3.0]))
    assert w.distance == pytest.approx(1.0) and w.distance_std == float("inf")
    again = Wasserstein.from_state(json.loads(json.dumps(w.to_state())), grid)
    assert again.snapshot() == w.snapshot()
