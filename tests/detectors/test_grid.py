"""FineGrid (the reference sketch) and the window states GridHistogram / BinCounts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors.errors import DetectorError
from detectors.feature_state import CategoricalWindowState, NumericWindowState
from detectors.profile import CategoricalProfile, NumericProfile
from detectors.stats.grid import FineGrid
from detectors.stats.sketch import BinCounts, GridHistogram
from detectors.stats.summary import categorical_statistics, numeric_statistics


def test_grid_counts_and_cdf_are_exact() -> None:
    rng = np.random.default_rng(11)
    values = np.concatenate([rng.normal(size=20_000), [np.nan] * 7])
    grid = FineGrid.from_values(values, cells=200)
    present = np.sort(values[~np.isnan(values)])
    assert grid.count == present.size and grid.missing == 7
    # 199 quantiles, 2 x 3 tail quantiles (0.5% / 4, / 16, / 64 hold >= 1 of 20,000), 2 x 6 extension edges
    assert len(grid.edges) == 199 + 6 + 12
    assert grid.counts[:6] == (0,) * 6 and grid.counts[-6:] == (0,) * 6  # beyond min / max
    assert grid.counts[6] > 0 and grid.counts[-7] > 0
    assert len(FineGrid.from_values(values, cells=200, tails=False).edges) == 199
    # F(e_i-) is the share of reference values strictly below the edge.
    np.testing.assert_array_equal(grid.cdf, np.searchsorted(present, grid.edges_array, side="left") / present.size)
    assert grid.min == present[0] and grid.max == present[-1]
    assert grid.std == pytest.approx(present.std())


def test_grid_round_trips_through_json() -> None:
    grid = FineGrid.from_values(np.random.default_rng(1).exponential(size=5_000), cells=50)
    again = FineGrid.from_dict(json.loads(json.dumps(grid.to_dict())))
    assert again == grid and again.fingerprint == grid.fingerprint


@pytest.mark.parametrize("bad", [
    {"format_version": 2},
    {"format_version": 1, "edges": [1.0, 0.0], "counts": [1, 1, 1], "missing": 0, "min": 0, "max": 1,
     "mean": 0.5, "std": 0.1},
    {"format_version": 1, "edges": [0.5], "counts": [1], "missing": 0, "min": 0, "max": 1, "mean": 0.5, "std": 0.1},
    {"format_version": 1, "edges": [0.5], "counts": [1, 1]},
])
def test_malformed_grid_raises(bad: dict) -> None:
    with pytest.raises(DetectorError):
        FineGrid.from_dict(bad)


@pytest.mark.parametrize("values", [[], [np.nan, np.nan], [1.0, np.inf]])
def test_unusable_reference_raises(values: list) -> None:
    with pytest.raises(DetectorError):
        FineGrid.from_values(np.array(values, dtype=float))


def test_heavy_atoms_get_their_own_cell() -> None:
    rng = np.random.default_rng(2)
    reference = rng.poisson(3, size=10_000).astype(float)
    grid = FineGrid.from_values(reference)
    for value in range(0, 8):  # every value holding >= 1/800 of the reference
        i = grid.edges.index(float(value))
        assert grid.edges[i + 1] == np.nextafter(float(value), np.inf)
        assert grid.counts[i + 1] == np.count_nonzero(reference == value)
    # Values moved off the atoms land in cells the reference never filled: KS sees it.
    hist = GridHistogram(grid)
    hist.update(rng.poisson(3, size=5_000) + 0.4)
    assert numeric_statistics(hist)["ks"] > 0.2
    continuous = FineGrid.from_values(rng.normal(size=10_000))
    assert not any(np.nextafter(e, np.inf) in continuous.edges for e in continuous.edges)


def test_constant_column_gets_below_exactly_and_above_cells() -> None:
    constant = FineGrid.from_values(np.full(100, 4.0))
    assert constant.edges == (4.0, np.nextafter(4.0, np.inf)) and constant.counts == (0, 100, 0)
    assert constant.std == 0.0  # and no extension cells
    hist = GridHistogram(constant)
    hist.update(np.array([4.0, 4.0]))
    stats = numeric_statistics(hist)
    assert stats["ks"] == 0.0 and stats["wasserstein"] == 0.0 and stats["wasserstein_std"] == 0.0
    hist.update(np.array([4.5, 4.5]))
    assert numeric_statistics(hist)["ks"] == 0.5


def test_histogram_merge_is_exact_for_every_split() -> None:
    rng = np.random.default_rng(3)
    grid = FineGrid.from_values(rng.normal(size=10_000))
    batch = np.concatenate([rng.normal(0.2, 1.3, size=3_001), [np.nan, np.inf, -np.inf]])
    rng.shuffle(batch)
    whole = GridHistogram(grid)
    whole.update(batch)
    for parts in range(2, 9):
        states = []
        for chunk in np.array_split(batch, parts):
            state = GridHistogram(grid)
            state.update(chunk)
            states.append(state)
        merged = states[0]
        for state in states[1:]:
            merged = merged.merge(state)
        assert merged.to_state() == whole.to_state()
    assert whole.missing == 1 and whole.count == 3_003
    assert whole.max == float(np.nanmax(batch[np.isfinite(batch)]))


def test_histogram_state_refuses_another_grid() -> None:
    grid = FineGrid.from_values(np.arange(100.0), cells=10)
    other = FineGrid.from_values(np.arange(1.0, 101.0), cells=10)
    hist = GridHistogram(grid)
    hist.update(np.arange(10.0))
    state = json.loads(json.dumps(hist.to_state()))
    assert GridHistogram.from_state(state, grid).to_state() == hist.to_state()
    with pytest.raises(DetectorError):
        GridHistogram.from_state(state, other)
    with pytest.raises(DetectorError):
        hist.merge(GridHistogram(other))
    empty = GridHistogram.from_state(GridHistogram(grid).to_state(), grid)
    assert empty.min is None and empty.count == 0


def test_psi_from_the_fine_grid_equals_the_profile_psi() -> None:
    # With the profile's edges inside the grid, PSI on the profile's bins needs no second binning.
    rng = np.random.default_rng(4)
    reference = rng.lognormal(size=30_000)
    profile = NumericProfile.from_values(reference, bins=10)
    grid = FineGrid.from_values(reference, extra_edges=profile.edges)
    assert set(profile.edges) <= set(grid.edges)
    window = rng.lognormal(0.1, 1.0, size=4_000)
    hist, state = GridHistogram(grid), NumericWindowState(profile)
    hist.update(window)
    state.update(window)
    assert numeric_statistics(hist, psi_edges=profile.edges)["psi"] == state.snapshot()["psi"]
    with pytest.raises(DetectorError):
        numeric_statistics(GridHistogram(FineGrid.from_values(reference)), psi_edges=[0.123456])


def test_bin_counts_match_feature_state_and_merge_exactly() -> None:
    profile = CategoricalProfile.from_values(list("aabbbc"))
    batch = ["a", "b", "z", None, 3, "c", "c", "y"] * 5
    counts, state = BinCounts(profile), CategoricalWindowState(profile)
    counts.update(batch)
    state.update(batch)
    assert counts.counts.tolist() == state.snapshot()["bin_counts"]
    assert categorical_statistics(counts)["psi"] == state.snapshot()["psi"]
    assert categorical_statistics(counts)["unseen_share"] == state.snapshot()["unseen_share"]
    halves = BinCounts(profile), BinCounts(profile)
    halves[0].update(batch[:13])
    halves[1].update(batch[13:])
    assert halves[0].merge(halves[1]).to_state() == counts.to_state()
    assert BinCounts.from_state(json.loads(json.dumps(counts.to_state())), profile).to_state() == counts.to_state()
    with pytest.raises(DetectorError):
        categorical_statistics(BinCounts(NumericProfile.from_values(np.arange(10.0), bins=2)))
