"""Data-quality verdicts: a rise of a share over the reference's, significant by a binomial test
(BH across the window) and at least the effect threshold; seeded windows with and without it."""

from dataclasses import dataclass

import numpy as np

from detectors.stats.quality import quality_verdicts


@dataclass
class _Profile:
    kind: str
    missing_share: float
    count: int = 20_000


def _window(rng, n, missing_p, oor_p=0.0, unseen_p=0.0):
    missing = rng.binomial(n, missing_p)
    present = n - missing
    return {
        "num": {"count": n, "missing_share": missing / n, "out_of_range_share": rng.binomial(present, oor_p) / present,
                "type_errors": 0},
        "cat": {"count": n, "missing_share": missing / n, "unseen_share": rng.binomial(present, unseen_p) / present,
                "type_errors": 0},
    }


PROFILES = {"num": _Profile("numeric", 0.01), "cat": _Profile("categorical", 0.01)}


def test_no_false_alarms_on_drift_free_windows_of_every_size(figures):
    rng = np.random.default_rng(3)
    for n in (200, 500, 2_000, 5_000, 50_000):
        flagged = sum(any(v.drifted for v in quality_verdicts(_window(rng, n, 0.01, 0.0005, 0.0005), PROFILES))
                      for _ in range(1_000))
        assert flagged <= 1, (n, flagged)
    figures("data quality: 0 or 1 flagged window in 1,000 drift-free ones at each size 200-50,000")


def test_a_missing_share_from_1_to_6_percent_is_found_in_a_2000_event_window():
    rng = np.random.default_rng(4)
    verdicts = {(v.feature, v.statistic): v for v in quality_verdicts(_window(rng, 2_000, 0.06), PROFILES)}
    v = verdicts[("num", "missing_share")]
    assert v.drifted and v.severity == "minor" and v.qvalue < 1e-6


def test_unseen_categories_and_out_of_range_values_are_found_when_they_matter():
    rng = np.random.default_rng(5)
    verdicts = {(v.feature, v.statistic): v for v in quality_verdicts(_window(rng, 5_000, 0.01, 0.15, 0.03), PROFILES)}
    assert verdicts[("num", "out_of_range")].severity == "major"
    assert verdicts[("cat", "unseen_categories")].severity == "minor"
    one = quality_verdicts({"cat": {"count": 300, "missing_share": 0.0, "unseen_share": 1 / 300, "type_errors": 0}},
                           PROFILES)
    assert not any(v.drifted for v in one)  # one odd event in a small window


def test_a_missing_share_from_0_to_5_percent_is_found_in_its_first_2000_event_window(figures):
    rng = np.random.default_rng(6)
    profiles = {"num": _Profile("numeric", 0.0), "cat": _Profile("categorical", 0.0)}
    verdicts = {(v.feature, v.statistic): v for v in quality_verdicts(_window(rng, 2_000, 0.05), profiles)}
    assert verdicts[("num", "missing_share")].drifted and verdicts[("cat", "missing_share")].drifted
    figures(f"missing share 0 % -> 5 %: found in its first 2,000-event window "
            f"(q {verdicts[('num', 'missing_share')].qvalue:.1e}, {verdicts[('num', 'missing_share')].severity})")
