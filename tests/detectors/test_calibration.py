"""The drift verdicts' calibration at every window size (issue #10's figures, printed by the run).

- 1,000 drift-free windows of 20 numeric + 5 categorical features at 200, 500, 2,000, 5,000 and
  50,000 events: at most one window with any verdict (drawn as exact window states, _worlds.py);
- a 0.25 std mean shift is found in its first 5,000-event window and a 0.5 std shift in its first
  500-event window, for every numeric shape (real events);
- a 0.05 std shift in 50,000-event windows is never `major` (where its true effect is below major).
"""

from __future__ import annotations

import pytest

from detectors.stats.policy import DriftPolicy
from tests.detectors._worlds import NUMERIC, World

SIZES = (200, 500, 2_000, 5_000, 50_000)


@pytest.mark.parametrize("size", SIZES)
def test_drift_free_windows_flag_at_most_one_in_a_thousand(size: int, figures) -> None:
    world = World(seed=2024 + size)
    policy = DriftPolicy()
    flagged = past_minor = 0
    for window in world.null_windows(1_000, size):
        assert len(window) == 25
        result = policy.evaluate(window)
        flagged += any(v.drifted for v in result.values())
        # What the old rule looked at: some effect's estimate at or past its minor threshold.
        past_minor += any(window[f].get(k, 0.0) >= minor for f in window for k, (minor, _) in policy.thresholds.items())
    figures(f"drift-free, {size:,}-event windows x 25 features: {flagged} of 1,000 flagged "
            f"({past_minor} had an effect estimate at or past its minor threshold)")
    assert flagged <= 1


@pytest.mark.parametrize(("shift", "size"), [(0.25, 5_000), (0.5, 500)])
def test_a_shift_is_found_in_its_first_window_for_every_shape(shift: float, size: int, figures) -> None:
    missed, deciders = [], {}
    for seed in range(2):
        world = World(seed=seed)
        for target in list(NUMERIC)[seed::2]:
            result = DriftPolicy().evaluate(world.window(shift={target: shift}, size=size))
            if not result[target].drifted:
                missed.append(target)
            deciders[result[target].metric] = deciders.get(result[target].metric, 0) + 1
            assert [f for f, v in result.items() if v.drifted and f != target] == []
    figures(f"{shift} std shift in its first {size:,}-event window: found for {len(NUMERIC) - len(missed)} of "
            f"{len(NUMERIC)} shapes (decided by {', '.join(f'{k} {n}' for k, n in sorted(deciders.items()))})")
    assert missed == []


def test_a_tiny_shift_in_large_windows_is_never_major(figures) -> None:
    # "Never major" holds where the shift is tiny for the feature: its true effects (the shifted
    # population's, no noise) all below their major thresholds. For integer-valued features a
    # 0.05 std shift puts every value where the reference has none, and for a lognormal with
    # sigma 1.5 it empties the lowest deciles: there the true effect is major, and so is the verdict.
    world = World(seed=11)
    policy = DriftPolicy()
    shift = {name: 0.05 for name in NUMERIC}
    tiny = [name for name, feature in world.numeric.items()
            if all(feature.population_statistics(0.05)[k] < major for k, (_, major) in policy.thresholds.items())]
    severities = {"none": 0, "minor": 0, "major": 0}
    for _ in range(5):
        result = policy.evaluate(world.window(shift=shift, size=50_000))
        for name in tiny:
            severities[result[name].severity] += 1
    figures(f"0.05 std shift, 5 windows of 50,000 events: {severities['major']} major and {severities['minor']} "
            f"minor verdicts on the {len(tiny)} of {len(NUMERIC)} shapes where its true effect is below major")
    assert severities["major"] == 0 and len(tiny) >= 14
