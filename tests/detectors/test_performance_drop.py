"""Performance alerts: calibrated on seeded windows without a drop, and found with one."""

from __future__ import annotations

import numpy as np

from detectors.stats.performance_drop import accuracy_drop, mae_rise


def test_accuracy_drop_false_alarms_stay_below_alpha_and_a_real_drop_is_found(figures) -> None:
    rng = np.random.default_rng(5)
    baseline = 0.9
    # Windows at the baseline accuracy: any alarm is false.
    false = sum(accuracy_drop(int(rng.binomial(n, baseline)), n, baseline) .fired
                for n in (100, 500, 2_000, 20_000) for _ in range(500))
    found = [accuracy_drop(int(rng.binomial(1_000, 0.80)), 1_000, baseline) for _ in range(200)]
    figures(f"accuracy_drop: {false} alarms in 2,000 windows at the baseline accuracy; a drop 0.90 -> 0.80 "
            f"found in {sum(v.fired for v in found)} of 200 windows of 1,000 labels")
    assert false <= 2 and sum(v.fired for v in found) >= 190  # power ~97 % at alpha 0.01
    assert accuracy_drop(50, 60, baseline) is None  # too few labels to judge


def test_mae_rise_is_calibrated_and_found() -> None:
    rng = np.random.default_rng(6)

    def window(scale, n):
        e = rng.normal(0, scale, n)
        return float(np.abs(e).mean()), float((e * e).mean()), n
    baseline = np.sqrt(2 / np.pi)  # MAE of N(0, 1) errors
    false = sum(mae_rise(*window(1.0, n), baseline).fired for n in (200, 5_000) for _ in range(500))
    found = sum(mae_rise(*window(1.3, 2_000), baseline).severity == "major" for _ in range(100))
    assert false <= 2 and found == 100
