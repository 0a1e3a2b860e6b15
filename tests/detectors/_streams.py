"""Seeded reference / window samples shared by the statistic tests (never global seeding)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from detectors.stats.grid import FineGrid
from detectors.stats.sketch import GridHistogram

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


def grid_windows(name: str, seed: int, shifts: Sequence[float] = SHIFTS
                 ) -> Iterator[tuple[np.ndarray, np.ndarray, GridHistogram]]:
    """(reference, window, the window's histogram on the reference's fine grid) for each shift:
    50,000 reference and 5,000 window values of sampler `name`, seeded by seed + its position."""
    rng = np.random.default_rng(seed + sorted(SAMPLERS).index(name))
    reference = SAMPLERS[name](rng, 50_000, 0.0)
    grid = FineGrid.from_values(reference)
    for shift in shifts:
        window = SAMPLERS[name](rng, 5_000, shift)
        hist = GridHistogram(grid)
        hist.update(window)
        yield reference, window, hist
