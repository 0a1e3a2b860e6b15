"""Seeded reference / window samples shared by the statistic tests (never global seeding)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# name -> (rng, size, shift in reference std) -> sample; shifts move the location.
SAMPLERS: dict[str, Callable[[np.random.Generator, int, float], np.ndarray]] = {
    "normal": lambda rng, n, d: rng.normal(d, 1.0, n),
    "lognormal": lambda rng, n, d: rng.lognormal(0.0, 0.75, n) + d * 0.9,
    "exponential": lambda rng, n, d: rng.exponential(1.0, n) + d,
    "uniform": lambda rng, n, d: rng.uniform(0.0, 1.0, n) + d * 0.2887,
    "student_t3": lambda rng, n, d: rng.standard_t(3, n) + d * 1.73,
    "poisson": lambda rng, n, d: rng.poisson(4.0, n).astype(float) + np.round(d * 2.0),
    "bimodal": lambda rng, n, d: np.where(rng.random(n) < 0.3, rng.normal(-2, 0.5, n), rng.normal(1, 0.7, n)) + d,
}
SHIFTS = (0.0, 0.1, 0.25, 1.0, 4.0)
