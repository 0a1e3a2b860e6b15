"""driftline's PSI against Evidently's PSI stattest on the same bins (within 1e-9).

What Evidently 0.7 computes (evidently/legacy/calculations/stattests/psi.py, `_psi`, registered as
the StatTest `psi_stat_test`): PSI = sum (r_i - c_i) * ln(r_i / c_i) over the shares returned by
`stattests.utils.get_binned_data(reference, current, feature_type, n)`. That helper bins by itself:
- a numeric column with more than 20 distinct reference values: `np.histogram_bin_edges` of
  reference + current together with bins="sturges" (equal width; its `n_bins=30` is unused);
- a categorical column, or a numeric one with <= 20 distinct reference values: one bin per distinct
  value of reference U current (bins empty on both sides do not exist);
- shares are count / len(series); a share of 0 is replaced by 1e-4, unless the smallest non-zero
  share of that side is <= 1e-4, then by that smallest share / 1e6.

driftline: `NumericWindowState.snapshot()["psi"]` (the worker's path: counts read off the fine
grid, coarse bins = the profile's quantile edges) and `detectors.psi.psi` on `bin_numeric` /
`CategoricalWindowState` counts; shares over present values, 0 -> 1e-4 on both sides.

So Evidently never uses driftline's quantile bins for a continuous column. To compare on the same
bins, the continuous cases hand Evidently the bin *labels* (our edges' bin index of every value,
`np.searchsorted(edges, x, "right")`, as a categorical column): its per-value binning then
reproduces exactly our bins, and the test also checks that its reference shares equal the
profile's shares. The integer case needs no relabelling (<= 20 values: Evidently's native per-value
bins are our bins). Categorical columns are passed as they are; several unseen categories (which
driftline pools into its one unseen bucket) are mapped to one label, and a separate test shows that
pooling is the only difference. Smoothing agrees while every non-zero share exceeds 1e-4 (a 5,000
window: 2e-4 per event); the last test pins down Evidently's other rule where it does not. No NaNs:
Evidently's drift pipeline drops them before the stattest, driftline counts them apart.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("evidently", minversion="0.7", reason="Evidently is a test extra: pip install -e '.[test]'")
import pandas as pd  # noqa: E402  (after the skip: pandas comes with the test extra)
from evidently.legacy.calculations.stattests.psi import psi_stat_test  # noqa: E402
from evidently.legacy.calculations.stattests.utils import (get_binned_data,  # noqa: E402
                                                           get_unique_not_nan_values_list_from_series)
from evidently.legacy.core import ColumnType  # noqa: E402

from detectors import (CategoricalProfile, CategoricalWindowState, NumericProfile, NumericWindowState,  # noqa: E402
                       bin_numeric, psi)

TOL = 1e-9


def _evidently_psi(reference, current, kind: ColumnType = ColumnType.Categorical) -> float:
    result = psi_stat_test(pd.Series(reference), pd.Series(current), kind, threshold=0.1)
    assert result.drifted == (result.drift_score >= 0.1)
    return float(result.drift_score)


def _labels(values: np.ndarray, profile: NumericProfile) -> np.ndarray:
    """Our bin index of every value: the bins Evidently is made to use."""
    return np.searchsorted(profile.edges_array, values, side="right")


def _numeric_driftline(profile: NumericProfile, window: np.ndarray) -> float:
    state = NumericWindowState(profile)
    state.update(window)
    via_grid = state.snapshot()["psi"]
    direct = psi(np.asarray(profile.shares), bin_numeric(window, profile.edges_array)[0])
    assert via_grid == pytest.approx(direct, abs=1e-12)
    return via_grid


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.1, 1.0), (0.3, 1.2), (1.0, 0.7)])
def test_numeric_psi_equals_evidently_on_our_quantile_bins(shift, scale):
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(shift, scale, 5_000)
    profile = NumericProfile.from_values(ref, bins=10)
    ref_lab, cur_lab = _labels(ref, profile), _labels(cur, profile)
    # Same bins: Evidently's reference shares (ordered by label) are the profile's shares.
    ref_s, cur_s = pd.Series(ref_lab), pd.Series(cur_lab)
    ev_ref, _ = get_binned_data(ref_s, cur_s, ColumnType.Categorical, 10)
    keys = get_unique_not_nan_values_list_from_series(current_data=cur_s, reference_data=ref_s)  # its bin order
    assert sorted(keys) == list(range(len(profile.shares)))  # no empty bin: smoothing plays no part here
    assert np.allclose(ev_ref[np.argsort(keys)], profile.shares, rtol=0, atol=1e-15)
    assert _numeric_driftline(profile, cur) == pytest.approx(_evidently_psi(ref_lab, cur_lab), abs=TOL)


def test_integer_column_needs_no_relabelling():
    """<= 20 distinct values: Evidently's native numeric binning is one bin per value, as ours."""
    rng = np.random.default_rng(3)
    values = np.arange(8.0)
    ref = rng.choice(values, 50_000, p=[0.08, 0.1, 0.2, 0.15, 0.12, 0.1, 0.15, 0.1])
    cur = rng.choice(values, 5_000, p=[0.02, 0.08, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1])
    profile = NumericProfile.from_values(ref, bins=20)
    assert profile.edges == tuple(values[1:])  # every value its own bin (+ an empty "below 0" bin)
    ours = _numeric_driftline(profile, cur)
    assert ours == pytest.approx(_evidently_psi(ref, cur, ColumnType.Numerical), abs=TOL)
    assert ours > 0.05


def test_numeric_empty_window_bins_are_smoothed_alike():
    """A 3-sigma shift empties the lower bins of the window: 0 -> 1e-4 on both sides."""
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(3.0, 0.5, 5_000)
    profile = NumericProfile.from_values(ref, bins=10)
    counts = bin_numeric(cur, profile.edges_array)[0]
    assert (counts == 0).sum() >= 5 and counts[counts > 0].min() / cur.size > 1e-4
    ours = _numeric_driftline(profile, cur)
    assert ours == pytest.approx(_evidently_psi(_labels(ref, profile), _labels(cur, profile)), abs=TOL)
    assert ours > 5


def _categories(rng, n, cats, p):
    return rng.choice(np.array(cats, dtype=object), n, p=p).tolist()


def _categorical_driftline(profile: CategoricalProfile, window: list) -> float:
    state = CategoricalWindowState(profile)
    state.update(window)
    return state.snapshot()["psi"]


def test_categorical_psi_equals_evidently_with_the_public_report_too():
    rng = np.random.default_rng(11)
    cats = ["web", "ios", "android", "pos", "phone"]
    ref = _categories(rng, 50_000, cats, [0.4, 0.25, 0.2, 0.1, 0.05])
    cur = _categories(rng, 5_000, cats, [0.3, 0.25, 0.25, 0.12, 0.08])
    profile = CategoricalProfile.from_values(ref)
    ours = _categorical_driftline(profile, cur)
    assert ours == pytest.approx(_evidently_psi(ref, cur), abs=TOL)
    assert ours > 0.02
    # The same number through Evidently's public 0.7 API (Report + DataDriftPreset, method="psi").
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(categorical_columns=["channel"])
    run = Report([DataDriftPreset(method="psi", threshold=0.1)]).run(
        Dataset.from_pandas(pd.DataFrame({"channel": cur}), data_definition=definition),
        Dataset.from_pandas(pd.DataFrame({"channel": ref}), data_definition=definition))
    values = [m["value"] for m in run.dict()["metrics"] if m["config"].get("column") == "channel"]
    assert values and values[0] == pytest.approx(ours, abs=TOL)


def test_categorical_missing_and_unseen_categories_are_smoothed_alike():
    """'phone' is absent from the window (window share 0) and two unseen categories appear
    (reference share 0): driftline pools them in its unseen bucket, so Evidently gets them as one
    label."""
    rng = np.random.default_rng(13)
    cats = ["web", "ios", "android", "pos", "phone"]
    ref = _categories(rng, 50_000, cats, [0.4, 0.25, 0.2, 0.1, 0.05])
    cur = _categories(rng, 5_000, ["web", "ios", "android", "pos", "kiosk", "tv"], [0.4, 0.25, 0.2, 0.1, 0.03, 0.02])
    profile = CategoricalProfile.from_values(ref)
    ours = _categorical_driftline(profile, cur)
    pooled = [v if v in profile.index else "<unseen>" for v in cur]
    assert ours == pytest.approx(_evidently_psi(ref, pooled), abs=TOL)
    assert ours > 0.3


def test_evidently_on_raw_unseen_labels_differs_only_by_pooling():
    """On the raw labels Evidently gives each unseen category its own bin: the value then equals
    driftline's psi() on such bins, i.e. pooling is the whole difference."""
    rng = np.random.default_rng(13)
    ref = _categories(rng, 50_000, ["a", "b", "c"], [0.5, 0.3, 0.2])
    cur = _categories(rng, 5_000, ["a", "b", "c", "x", "y"], [0.45, 0.3, 0.2, 0.03, 0.02])
    profile = CategoricalProfile.from_values(ref)
    state = CategoricalWindowState(profile)
    state.update(cur)
    split_counts = np.array([*state.snapshot()["bin_counts"][:-1], cur.count("x"), cur.count("y")])
    split = psi(np.array([*profile.shares[:-1], 0.0, 0.0]), split_counts)
    raw = _evidently_psi(ref, cur)
    assert raw == pytest.approx(split, abs=TOL)
    assert abs(raw - state.snapshot()["psi"]) > 1e-3


def test_where_smoothing_differs_a_reference_share_at_or_below_1e4():
    """A rare reference category (3 of 50,000 = 6e-5) makes Evidently smooth that side's zeros with
    6e-5 / 1e6 instead of 1e-4. driftline keeps 1e-4 (bounded contribution of an unseen category);
    the test reproduces Evidently's value from driftline's counts with Evidently's epsilon."""
    rng = np.random.default_rng(17)
    ref = _categories(rng, 49_997, ["a", "b"], [0.6, 0.4]) + ["rare"] * 3
    cur = _categories(rng, 5_000, ["a", "b", "new"], [0.55, 0.4, 0.05])
    profile = CategoricalProfile.from_values(ref)
    state = CategoricalWindowState(profile)
    state.update(cur)
    counts = np.asarray(state.snapshot()["bin_counts"], dtype=np.float64)  # a, b, rare, unseen
    expected = np.asarray(profile.shares)
    actual = counts / counts.sum()
    expected_ev = np.where(expected == 0, expected[expected > 0].min() / 1e6, expected)
    actual_ev = np.where(actual == 0, 1e-4, actual)  # window side: smallest share 2e-4 > 1e-4
    evidently_rule = float(np.sum((actual_ev - expected_ev) * np.log(actual_ev / expected_ev)))
    raw = _evidently_psi(ref, [v if v in profile.index else "<unseen>" for v in cur])
    assert raw == pytest.approx(evidently_rule, abs=TOL)
    assert state.snapshot()["psi"] == pytest.approx(psi(expected, counts), abs=1e-15)
    assert raw - state.snapshot()["psi"] > 0.5  # ln(1e-4 / 6e-11) ~ 14 times a 5% share
