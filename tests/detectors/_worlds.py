"""Seeded worlds of drift-free features for the verdict tests: 20 numeric shapes and 5 categorical
columns with 50,000-value references, windows of real events or of exact window states.

Window states: a window's statistics depend only on its cell counts and min/max, and for n iid
events from F those are exactly distributed as counts ~ Multinomial(n, P(X in cell)) and min =
F^-1(F(cell start) + P(cell) * U), U ~ Beta(1, c), in the first non-empty cell with c events (max
likewise with Beta(c, 1)). That is the same distribution as binning the events, at a fraction of
the time (test_verdicts.py::test_state_sampler_matches_events checks it).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from detectors.profile import CategoricalProfile
from detectors.stats.grid import FineGrid
from detectors.stats.sketch import BinCounts, GridHistogram
from detectors.stats.summary import batch_numeric_statistics, categorical_statistics, numeric_statistics

WINDOW, REFERENCE = 5_000, 50_000
NUMERIC = {
    "normal": stats.norm(), "lognormal": stats.lognorm(0.75), "exponential": stats.expon(),
    "uniform": stats.uniform(), "student_t3": stats.t(3), "poisson": stats.poisson(4),
    "gamma": stats.gamma(2), "beta": stats.beta(2, 5), "laplace": stats.laplace(),
    "logistic": stats.logistic(), "weibull": stats.weibull_min(1.5), "chi2": stats.chi2(3),
    "binomial": stats.binom(10, 0.3), "narrow": stats.norm(100.0, 0.01), "skewnorm": stats.skewnorm(4),
    "geometric": stats.geom(0.2),
    "rayleigh": stats.rayleigh(), "negative_binomial": stats.nbinom(5, 0.5), "lognormal_wide": stats.lognorm(1.5),
    "halfnormal": stats.halfnorm(),
}
CATEGORY_PROBS = [np.array([0.5, 0.3, 0.15, 0.05]), np.array([0.9, 0.09, 0.01]),
                  np.full(12, 1 / 12), np.array([0.4, 0.3, 0.2, 0.06, 0.03, 0.01]), np.array([0.7, 0.2, 0.1])]


class NumericFeature:
    """One numeric feature: its reference grid and samplers of window events or window states."""

    def __init__(self, dist, rng: np.random.Generator) -> None:
        self.dist = dist
        reference = dist.rvs(size=REFERENCE, random_state=rng).astype(float)
        self.grid = FineGrid.from_values(reference)
        self.std = reference.std()
        self.cell_p, self.cell_start = self._cells(0.0)

    def _cells(self, offset: float) -> tuple[np.ndarray, np.ndarray]:
        """P(X + offset in cell) for every grid cell, and P(X + offset < cell start)."""
        edges = self.grid.edges_array - offset
        below = self.dist.cdf(edges)  # P(X < e): subtract the atom at e for discrete distributions
        if hasattr(self.dist, "pmf"):
            below = below - self.dist.pmf(edges)
        starts = np.concatenate([[0.0], below])
        cell_p = np.clip(np.diff(np.concatenate([starts, [1.0]])), 0.0, None)
        return cell_p / cell_p.sum(), starts

    def population_statistics(self, shift: float) -> dict[str, float]:
        """The statistics of the shifted population itself (a window of 10^12 events, no noise)."""
        offset = shift * self.std
        cell_p, _ = self._cells(offset)
        counts = np.round(cell_p * 1e12).astype(np.int64)[None, :]
        lo, hi = self.dist.ppf([1e-12, 1 - 1e-12]) + offset
        batch = batch_numeric_statistics(self.grid, counts, np.array([lo]), np.array([hi]))
        return {k: float(v[0]) for k, v in batch.items()}

    def events(self, rng: np.random.Generator, shift: float = 0.0, size: int = WINDOW) -> np.ndarray:
        return self.dist.rvs(size=size, random_state=rng).astype(float) + shift * self.std

    def states(self, rng: np.random.Generator, count: int, size: int = WINDOW, shift: float = 0.0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact window states (counts, min, max) of `count` windows of `size` events shifted by
        `shift` reference std (module doc)."""
        offset = shift * self.std
        cell_p, cell_start = (self.cell_p, self.cell_start) if shift == 0 else self._cells(offset)
        counts = rng.multinomial(size, cell_p, size=count)
        rows = np.arange(count)
        first = np.argmax(counts > 0, axis=1)
        last = counts.shape[1] - 1 - np.argmax(counts[:, ::-1] > 0, axis=1)
        u = rng.beta(1.0, counts[rows, first])  # the smallest of c uniforms
        v = rng.beta(counts[rows, last], 1.0)  # the largest
        lo = self.dist.ppf(cell_start[first] + cell_p[first] * u) + offset
        hi = self.dist.ppf(cell_start[last] + cell_p[last] * v) + offset
        return counts, lo.astype(float), hi.astype(float)


class World:
    """20 numeric + 5 categorical features with their references."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.numeric = {name: NumericFeature(dist, self.rng) for name, dist in NUMERIC.items()}
        self.labels = [np.array([f"c{i}" for i in range(len(p))]) for p in CATEGORY_PROBS]
        self.profiles = [CategoricalProfile.from_values(labels[self.rng.choice(len(p), REFERENCE, p=p)].tolist())
                         for labels, p in zip(self.labels, CATEGORY_PROBS)]

    def categorical(self, counts_per_feature: list[np.ndarray]) -> dict[str, dict[str, float]]:
        out = {}
        for j, (profile, counts) in enumerate(zip(self.profiles, counts_per_feature)):
            state = BinCounts(profile).to_state()
            # Profile categories are sorted labels "c0", "c1", "c10", ...: map sampled codes to them.
            order = [profile.categories.index(label) for label in self.labels[j]]
            bucket = np.zeros(len(profile.shares), dtype=np.int64)
            bucket[order] = counts
            state["counts"] = bucket.tolist()
            out[f"cat{j}"] = categorical_statistics(BinCounts.from_state(state, profile))
        return out

    def window(self, shift: dict[str, float] | None = None, size: int = WINDOW) -> dict[str, dict[str, float]]:
        """Statistics of one window of real events; `shift` maps a feature to a shift in its std."""
        out = {}
        for name, feature in self.numeric.items():
            hist = GridHistogram(feature.grid)
            hist.update(feature.events(self.rng, (shift or {}).get(name, 0.0), size))
            out[name] = numeric_statistics(hist)
        codes = [self.rng.multinomial(size, p) for p in CATEGORY_PROBS]
        return {**out, **self.categorical(codes)}

    def null_windows(self, count: int, size: int = WINDOW) -> list[dict[str, dict[str, float]]]:
        """Statistics of `count` no-drift windows, drawn as exact window states (module doc)."""
        columns = {}
        for name, feature in self.numeric.items():
            batch = batch_numeric_statistics(feature.grid, *feature.states(self.rng, count, size))
            columns[name] = [{k: float(v[i]) for k, v in batch.items()} for i in range(count)]
        categorical = [self.rng.multinomial(size, p, size=count) for p in CATEGORY_PROBS]
        windows = []
        for i in range(count):
            window = {name: rows[i] for name, rows in columns.items()}
            window.update(self.categorical([c[i] for c in categorical]))
            windows.append(window)
        return windows
