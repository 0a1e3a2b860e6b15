"""Benjamini-Hochberg and the drift policy's rules; the calibration figures are in
test_calibration.py, the threshold tests themselves in test_excess.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.stats import false_discovery_control, ks_2samp

from detectors.errors import DetectorError
from detectors.stats.fdr import benjamini_hochberg
from detectors.stats.policy import DriftPolicy, verdicts
from detectors.stats.sketch import GridHistogram
from detectors.stats.summary import batch_numeric_statistics, numeric_statistics
from tests.detectors._worlds import NumericFeature

SIZES = {"window_n": 5_000, "reference_n": 50_000, "psi_cells": 10, "js_cells": 10, "wasserstein_noise": 1.29,
         "wasserstein_std_error_bound": 0.0}


def test_bh_equals_scipy() -> None:
    rng = np.random.default_rng(41)
    for m in (1, 2, 7, 20, 300):
        for _ in range(20):
            p = np.concatenate([rng.random(m), rng.random(m) * 1e-4])[:m]
            rng.shuffle(p)
            np.testing.assert_allclose(benjamini_hochberg(p), false_discovery_control(p, method="bh"),
                                       rtol=1e-12, atol=0)
    assert benjamini_hochberg([]).size == 0
    with pytest.raises(DetectorError):
        benjamini_hochberg([0.5, 1.5])


def test_state_sampler_matches_events() -> None:
    # The exact-state shortcut and real events give the same distribution of statistics.
    rng = np.random.default_rng(7)
    for dist in (stats.lognorm(0.75), stats.poisson(4)):
        feature = NumericFeature(dist, rng)
        sampled = batch_numeric_statistics(feature.grid, *feature.states(rng, 300))
        real = []
        for _ in range(300):
            hist = GridHistogram(feature.grid)
            hist.update(feature.events(rng))
            real.append(numeric_statistics(hist))
        for key in ("ks", "wasserstein_std", "js"):
            assert ks_2samp(sampled[key], [r[key] for r in real]).pvalue > 1e-3, key


def test_policy_rules() -> None:
    policy = DriftPolicy(alpha=0.05, thresholds={"psi": (0.1, 0.25), "ks": (0.05, 0.2)})
    small = {**SIZES, "window_n": 20}
    result = policy.evaluate({
        "big_but_small_window": {"ks": 0.3, **small},     # the estimate is past minor, not significantly
        "just_past_minor": {"ks": 0.055, **SIZES},        # noise at 5,000 events is ~0.015
        "major": {"ks": 0.3, **SIZES},
        "psi_decides": {"psi": 0.3, "ks": 0.12, **SIZES},  # both minor, PSI first
        "empty": {"ks": float("nan"), "psi": float("nan"), **SIZES},
    })
    assert {k: (v.drifted, v.severity, v.metric) for k, v in result.items()} == {
        "big_but_small_window": (False, "none", "ks"), "just_past_minor": (False, "none", "ks"),
        "major": (True, "major", "ks"), "psi_decides": (True, "minor", "psi"), "empty": (False, "none", None)}
    assert result["empty"].pvalue is None and result["major"].qvalue < 1e-20
    for bad in ({"alpha": 0.0}, {"alpha": 1.5}, {"thresholds": {"ks": (0.2, 0.1)}}, {"thresholds": {"ks": (0.0, 0.1)}},
                {"thresholds": {"chi2": (0.1, 0.2)}}):
        with pytest.raises(DetectorError):
            DriftPolicy(**bad)
    with pytest.raises(DetectorError, match="window_n"):
        policy.evaluate({"x": {"ks": 0.3}})


def test_bh_across_features_can_drop_a_marginal_feature() -> None:
    # Significant alone, but not among 20 features whose other effects are far below threshold.
    sizes = {**SIZES, "window_n": 2_000}
    features = {f"f{i}": {"ks": 0.01, **sizes} for i in range(19)}
    features["marginal"] = {"ks": 0.087, **sizes}
    assert verdicts({"marginal": features["marginal"]})["marginal"].drifted
    assert not verdicts(features)["marginal"].drifted
