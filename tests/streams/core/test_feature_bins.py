"""`feature_bins`: a window's share of each profile bin next to the reference's, at most MAX_BINS
per feature, written as points of their own beside the window's other measurements."""

import numpy as np
import pytest

from detectors import build_profile
from detectors.profile import CategoricalProfile, NumericProfile
from detectors.window import ModelWindow
from streams.core.feature_bins import MAX_BINS, OTHER, UNSEEN, feature_bins
from streams.core.findings import WindowFindings, drift_policy
from streams.core.windowing import ClosedWindow
from streams.settings import Settings
from streams.sinks.influx import window_points


def _findings(profile, columns, n) -> WindowFindings:
    state = ModelWindow(profile)
    state.update(columns, latencies_ms=np.ones(n), events=n)
    settings = Settings(_env_file=None)
    return WindowFindings(ClosedWindow("m", "", 60_000, 120_000, state, 0, "watermark"), settings,
                          drift_policy(settings))


def test_numeric_bins_are_the_profiles_quantile_bins_with_their_edges():
    rng = np.random.default_rng(3)
    profile = NumericProfile.from_values(rng.normal(size=10_000), bins=10)
    counts = list(range(1, 11))
    bins = feature_bins(profile, counts)
    assert [b.index for b in bins] == list(range(10)) and [b.count for b in bins] == counts
    assert [b.lower for b in bins] == [None, *profile.edges]
    assert bins[0].label.startswith("< ") and bins[-1].label.startswith(">= ") and bins[4].label.startswith("[")
    assert sum(b.share for b in bins) == pytest.approx(1.0) and bins[9].share == pytest.approx(10 / 55)
    assert [b.reference_share for b in bins] == pytest.approx(list(profile.shares))


def test_many_numeric_bins_are_joined_to_at_most_max_bins():
    profile = NumericProfile.from_values(np.arange(10_000.0), bins=50)
    bins = feature_bins(profile, [1] * 50)
    assert len(bins) == 17 <= MAX_BINS  # groups of ceil(50 / 20) = 3 adjacent bins
    assert [b.lower for b in bins[:3]] == [None, profile.edges[2], profile.edges[5]]
    assert sum(b.reference_share for b in bins) == pytest.approx(1.0) and bins[-1].count == 2


def test_categories_keep_their_order_and_the_unseen_bucket():
    profile = CategoricalProfile.from_values(["b", "a", "a", "c"])
    bins = feature_bins(profile, [3, 1, 0, 1])
    assert [(b.label, b.share, b.reference_share) for b in bins] == [
        ("a", 0.6, 0.5), ("b", 0.2, 0.25), ("c", 0.0, 0.25), (UNSEEN, 0.2, 0.0)]


def test_rare_categories_beyond_max_bins_are_summed_into_other():
    values = [f"k{i:02d}" for i in range(30) for _ in range(30 - i)]  # k00 the most frequent
    profile = CategoricalProfile.from_values(values)
    bins = feature_bins(profile, [1] * 31)
    assert len(bins) == MAX_BINS
    assert [b.label for b in bins] == [f"k{i:02d}" for i in range(MAX_BINS - 2)] + [OTHER, UNSEEN]
    assert bins[-2].count == 30 - (MAX_BINS - 2) and sum(b.reference_share for b in bins) == pytest.approx(1.0)


def test_a_window_without_present_values_has_no_bins():
    assert feature_bins(CategoricalProfile.from_values(["a"]), [0, 0]) == []


def test_window_points_add_feature_bins_and_keep_the_other_measurements():
    rng = np.random.default_rng(1)
    profile = build_profile({"x": list(rng.normal(size=2000)), "c": list(rng.choice(["a", "b"], 2000)),
                             "gone": [1.0] * 2000})
    n = 500
    found = _findings(profile, {"x": rng.normal(size=n), "c": [str(v) for v in rng.choice(["a", "b"], n)],
                                "gone": np.full(n, np.nan)}, n)
    lines = [p.to_line_protocol() for p in window_points(found)]
    measurements = [line.split(",")[0] for line in lines]
    assert measurements.count("window_stats") == 1
    assert measurements.count("feature_drift") == measurements.count("data_quality") == 3
    bins = [line for line in lines if line.startswith("feature_bins,")]
    assert len(bins) == len(profile.features["x"].shares) + 3  # x's deciles, a, b and unseen; none for `gone`
    first = next(line for line in bins if "feature=x" in line and "bin=00" in line)
    assert first.startswith("feature_bins,bin=00,feature=x,model_id=m,model_version=unversioned ")
    assert 'label="< ' in first and "lower=" not in first and first.endswith(" 60000")  # ms: the window start
    second = next(line for line in bins if "feature=x" in line and "bin=01" in line)
    assert f"lower={profile.features['x'].edges[0]!r}" in second and "reference_share=" in second
    shares = [float(line.split("share=")[1].split(",")[0]) for line in bins if "feature=c" in line]
    assert sum(shares) == pytest.approx(1.0)
