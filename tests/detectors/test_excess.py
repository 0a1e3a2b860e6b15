"""The tests of "effect above its threshold" (detectors/stats/excess.py): their level holds where
it matters most, with the true effect exactly at the threshold, and they agree with scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats
from scipy.stats import ks_2samp

from detectors.stats.excess import js_excess, ks_excess, psi_excess, wasserstein_excess
from detectors.stats.policy import DEFAULT_THRESHOLDS
from detectors.stats.summary import batch_numeric_statistics
from tests.detectors._worlds import NumericFeature

TESTS = {"psi": psi_excess, "ks": ks_excess, "js": js_excess, "wasserstein_std": wasserstein_excess}


def test_at_threshold_zero_the_ks_test_is_the_asymptotic_two_sample_test() -> None:
    rng = np.random.default_rng(5)
    for n, m, shift in ((300, 5_000, 0.0), (2_000, 50_000, 0.1), (500, 500, 0.3)):
        a, b = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, m)
        result = ks_2samp(a, b, method="asymp")
        ours = ks_excess(result.statistic, 0.0, {"window_n": n, "reference_n": m})
        # scipy corrects Kolmogorov's limit for finite n; the limit is a little more conservative.
        assert result.pvalue * 0.99 <= ours <= result.pvalue * 1.25


@pytest.mark.parametrize("size", [500, 5_000])
@pytest.mark.parametrize("effect", list(TESTS))
def test_the_level_holds_when_the_true_effect_is_exactly_the_threshold(effect: str, size: int, figures) -> None:
    rng = np.random.default_rng(17)
    feature = NumericFeature(stats.norm(), rng)
    minor = DEFAULT_THRESHOLDS[effect][0]
    shift = optimize.brentq(lambda d: feature.population_statistics(d)[effect] - minor, 0.0, 2.0, xtol=1e-6)
    batch = batch_numeric_statistics(feature.grid, *feature.states(rng, 2_000, size, shift))
    windows = [{k: float(v[i]) for k, v in batch.items()} for i in range(2_000)]
    pvalues = np.array([TESTS[effect](w[effect], minor, w) for w in windows])
    rejected = float(np.mean(pvalues <= 0.05))
    above = float(np.mean([w[effect] >= minor for w in windows]))
    figures(f"{effect} test at its true minor threshold ({shift:.3f} std shift), {size:,} events: rejects "
            f"{rejected:.1%} at level 5% (the estimate alone is past the threshold in {above:.0%})")
    assert rejected <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 2_000)


def test_bad_inputs_are_one_clear_error() -> None:
    from detectors.errors import DetectorError
    with pytest.raises(DetectorError, match="reference_n"):
        ks_excess(0.3, 0.05, {"window_n": 10})
    assert ks_excess(float("nan"), 0.05, {"window_n": 10, "reference_n": 10}) == 1.0
    assert ks_excess(0.3, 0.05, {"window_n": 0, "reference_n": 10}) == 1.0
