"""PSI, binning and profiles against independent computations (np.histogram, a textbook PSI)."""

import numpy as np
import pytest

from detectors import NumericProfile, NumericWindowState, build_profile, psi
from detectors.binning import bin_numeric


def _textbook_psi(ref: np.ndarray, cur: np.ndarray, edges: np.ndarray) -> float:
    # Independent: np.histogram over closed outer bins, the Evidently-style 1e-4 floor.
    lo, hi = min(ref.min(), cur.min()) - 1, max(ref.max(), cur.max()) + 1
    bins = np.concatenate([[lo], edges, [hi]])
    e = np.histogram(ref, bins)[0] / ref.size
    a = np.histogram(cur, bins)[0] / cur.size
    e, a = np.where(e == 0, 1e-4, e), np.where(a == 0, 1e-4, a)
    return float(np.sum((a - e) * np.log(a / e)))


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5, 2.0])
def test_psi_equals_textbook_psi_on_the_same_bins(shift):
    rng = np.random.default_rng(11)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(shift, 1, 5_000)
    profile = NumericProfile.from_values(ref)
    state = NumericWindowState(profile)
    state.update(cur)
    # np.histogram bins are [a, b) like ours except the last, which is closed: no value sits on hi.
    assert state.snapshot()["psi"] == pytest.approx(_textbook_psi(ref, cur, profile.edges_array), abs=1e-12)


def test_quantile_bins_hold_equal_reference_shares():
    ref = np.random.default_rng(2).normal(0, 1, 100_000)
    profile = NumericProfile.from_values(ref, bins=10)
    assert len(profile.edges) == 9
    assert np.allclose(profile.shares, 0.1, atol=1e-4)


def test_ties_give_no_empty_reference_bins():
    ties = NumericProfile.from_values(np.array([0.0] * 700 + [1.0] * 200 + [2.0] * 100))
    assert ties.edges == (1.0,)  # 1.0 and 2.0 share the top decile: one bin [1, inf)
    assert ties.shares == (0.7, 0.3)
    skewed = NumericProfile.from_values(np.random.default_rng(1).poisson(0.3, 10_000).astype(float))
    assert min(skewed.shares) > 0


def test_constant_column_detects_moves_either_way():
    constant = NumericProfile.from_values(np.full(1000, 3.0))
    assert constant.shares == (0.0, 1.0, 0.0)
    for values, drifted in (([3.0] * 10, False), ([2.0] * 10, True), ([3.5] * 10, True)):
        state = NumericWindowState(constant)
        state.update(np.array(values))
        assert (state.snapshot()["psi"] > 1) is drifted


def test_values_on_an_edge_fall_in_the_upper_bin_on_both_sides():
    counts, missing = bin_numeric(np.array([1.0, 2.0, np.nan]), np.array([1.0, 2.0]))
    assert counts.tolist() == [0, 1, 1] and missing == 1


def test_psi_smoothing_of_an_empty_window_bin():
    # Reference 50/50, window all in bin 0: bin 1 is smoothed to 1e-4.
    expected = (1 - 0.5) * np.log(1 / 0.5) + (1e-4 - 0.5) * np.log(1e-4 / 0.5)
    assert psi(np.array([0.5, 0.5]), np.array([10, 0])) == pytest.approx(expected, abs=1e-15)
    assert np.isnan(psi(np.array([0.5, 0.5]), np.array([0, 0])))


def test_window_state_merge_is_exact_across_splits():
    rng = np.random.default_rng(5)
    profile = build_profile({"x": list(rng.normal(0, 1, 10_000)), "c": list(rng.choice(["a", "b", "c"], 10_000))})
    values, labels = rng.normal(0.3, 1, 4_000), list(rng.choice(["a", "b", "d", None], 4_000))
    values[::97] = np.nan
    from detectors.window import ModelWindow

    whole = ModelWindow(profile)
    whole.update({"x": values, "c": labels}, latencies_ms=values, events=4_000)
    for parts in range(2, 9):
        pieces = []
        for chunk in np.array_split(np.arange(4_000), parts):
            w = ModelWindow(profile)
            w.update({"x": values[chunk], "c": [labels[i] for i in chunk]}, latencies_ms=values[chunk],
                     events=len(chunk))
            pieces.append(w)
        merged = pieces[0]
        for p in pieces[1:]:
            merged = merged.merge(p)
        assert merged.snapshot() == whole.snapshot()


def test_profile_round_trips_through_plain_data():
    import json

    profile = build_profile({"x": [1.0, 2.0, None, 4.0], "flag": [True, False, True, None], "c": ["a", None, "b", "a"]},
                            bins=3, prediction=[0.1, 0.2, 0.3, 0.4])
    from detectors import ReferenceProfile

    again = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile


def test_huge_finite_values_are_profiled_without_overflow():
    import warnings

    from detectors import build_profile

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warning either
        profile = build_profile({"x": [1e300, -1e300, 1.0, 2.0]})
    x = profile.features["x"]
    assert x.std == pytest.approx(7.0710678118654755e299) and x.mean == pytest.approx(0.75, abs=1e-9)
