"""Benjamini-Hochberg and the drift policy, calibrated on seeded streams.

Requirements proven here (numbers printed in the "driftline figures" section of the test summary):
- 1,000 no-drift windows of 20 features (5,000 events per window, 50,000 reference events): at
  most one window has any drift verdict;
- a 0.25 std mean shift of one feature is found in the first drifted window of 5,000 events,
  while its PSI stays far below 0.2.

The 1,000 no-drift windows are drawn as window *states*: a window's statistics depend only on
its cell counts and min/max, and for n iid events from F those are exactly distributed as
counts ~ Multinomial(n, P(X in cell)) and min = F^-1(F(cell start) + P(cell) * U), U ~ Beta(1, c),
in the first non-empty cell with c events (max likewise with Beta(c, 1)). That is the same
distribution as binning 10^8 events, at 1/20 of the time; test_state_sampler_matches_events
checks the equivalence empirically, and the drift test below feeds real events.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.stats import false_discovery_control, ks_2samp

from detectors.errors import DetectorError
from detectors.profile import CategoricalProfile
from detectors.stats.fdr import benjamini_hochberg
from detectors.stats.grid import FineGrid
from detectors.stats.policy import DriftPolicy, verdicts
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
}
CATEGORY_PROBS = [np.array([0.5, 0.3, 0.15, 0.05]), np.array([0.9, 0.09, 0.01]),
                  np.full(12, 1 / 12), np.array([0.4, 0.3, 0.2, 0.06, 0.03, 0.01])]


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


class _Numeric:
    """One numeric feature: its reference grid and samplers of window events or window states."""

    def __init__(self, dist, rng: np.random.Generator) -> None:
        self.dist = dist
        reference = dist.rvs(size=REFERENCE, random_state=rng).astype(float)
        self.grid = FineGrid.from_values(reference)
        self.std = reference.std()
        edges = self.grid.edges_array
        below = dist.cdf(edges)  # P(X < e): subtract the atom at e for discrete distributions
        if hasattr(dist, "pmf"):
            below = below - dist.pmf(edges)
        starts = np.concatenate([[0.0], below])
        self.cell_p = np.clip(np.diff(np.concatenate([starts, [1.0]])), 0.0, None)
        self.cell_p /= self.cell_p.sum()
        self.cell_start = starts

    def events(self, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
        return self.dist.rvs(size=WINDOW, random_state=rng).astype(float) + shift * self.std

    def states(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = rng.multinomial(WINDOW, self.cell_p, size=count)
        rows = np.arange(count)
        first = np.argmax(counts > 0, axis=1)
        last = counts.shape[1] - 1 - np.argmax(counts[:, ::-1] > 0, axis=1)
        u = rng.beta(1.0, counts[rows, first])  # the smallest of c uniforms
        v = rng.beta(counts[rows, last], 1.0)  # the largest
        lo = self.dist.ppf(self.cell_start[first] + self.cell_p[first] * u)
        hi = self.dist.ppf(self.cell_start[last] + self.cell_p[last] * v)
        return counts, lo.astype(float), hi.astype(float)


class _World:
    """16 numeric + 4 categorical features with their references."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.numeric = {name: _Numeric(dist, self.rng) for name, dist in NUMERIC.items()}
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

    def window(self, shift: dict[str, float] | None = None) -> dict[str, dict[str, float]]:
        """Statistics of one window of real events; `shift` maps a feature to a shift in its std."""
        out = {}
        for name, feature in self.numeric.items():
            hist = GridHistogram(feature.grid)
            hist.update(feature.events(self.rng, (shift or {}).get(name, 0.0)))
            out[name] = numeric_statistics(hist)
        codes = [self.rng.multinomial(WINDOW, p) for p in CATEGORY_PROBS]
        return {**out, **self.categorical(codes)}

    def null_windows(self, count: int) -> list[dict[str, dict[str, float]]]:
        """Statistics of `count` no-drift windows, drawn as exact window states (module doc)."""
        columns = {}
        for name, feature in self.numeric.items():
            batch = batch_numeric_statistics(feature.grid, *feature.states(self.rng, count))
            columns[name] = [{k: float(v[i]) for k, v in batch.items()} for i in range(count)]
        categorical = [self.rng.multinomial(WINDOW, p, size=count) for p in CATEGORY_PROBS]
        windows = []
        for i in range(count):
            window = {name: rows[i] for name, rows in columns.items()}
            window.update(self.categorical([c[i] for c in categorical]))
            windows.append(window)
        return windows


def test_no_drift_windows_give_at_most_one_false_alarm(figures) -> None:
    world = _World(seed=2024)
    policy = DriftPolicy()
    alarms = significant = effects = 0
    for window in world.null_windows(1_000):
        assert len(window) == 20
        result = policy.evaluate(window)
        alarms += any(v.drifted for v in result.values())
        significant += any(v.qvalue is not None and v.qvalue <= policy.alpha for v in result.values())
        effects += any(v.effect is not None and v.effect >= policy.thresholds[v.metric][0] for v in result.values())
    figures(f"1,000 no-drift windows x 20 features: {alarms} with a drift verdict "
            f"({significant} with a BH-significant feature, {effects} with an effect >= its minor threshold)")
    assert alarms <= 1
    assert significant > 0  # BH alone alarms in a few % of windows: the effect threshold is what holds


def test_state_sampler_matches_events() -> None:
    # The exact-state shortcut and real events give the same distribution of statistics.
    rng = np.random.default_rng(7)
    for dist in (stats.lognorm(0.75), stats.poisson(4)):
        feature = _Numeric(dist, rng)
        sampled = batch_numeric_statistics(feature.grid, *feature.states(rng, 300))
        real = []
        for _ in range(300):
            hist = GridHistogram(feature.grid)
            hist.update(feature.events(rng))
            real.append(numeric_statistics(hist))
        for key in ("ks", "wasserstein_std", "js"):
            assert ks_2samp(sampled[key], [r[key] for r in real]).pvalue > 1e-3, key


@pytest.mark.parametrize("seed", range(4))
def test_quarter_std_shift_is_found_in_the_first_drifted_window(seed: int, figures) -> None:
    world = _World(seed=seed)
    names = list(NUMERIC)
    for _ in range(2):
        assert not any(v.drifted for v in verdicts(world.window()).values())
    for target in names[seed::4]:  # every numeric feature over the 4 seeds
        result_stats = world.window(shift={target: 0.25})
        result = verdicts(result_stats)
        assert result[target].drifted, (target, result[target], result_stats[target])
        assert [k for k, v in result.items() if v.drifted] == [target]
        if target in ("normal", "narrow", "logistic"):
            # Plain PSI on deciles misses it: ~0.06 for a normal feature, far below 0.2 (or 0.1).
            assert result_stats[target]["psi"] < 0.1 and result[target].metric != "psi"
        figures(f"0.25 std shift of {target!r} (5,000 events): found in the first drifted window by "
                f"{result[target].metric}={result[target].effect:.3f}, PSI {result_stats[target]['psi']:.3f}")


def test_policy_rules() -> None:
    policy = DriftPolicy(alpha=0.05, thresholds={"ks": (0.05, 0.2), "psi": (0.1, 0.25)})
    result = policy.evaluate({
        "big_but_noisy": {"ks": 0.3, "ks_pvalue": 0.5},         # effect, not significant
        "tiny_but_sure": {"ks": 0.01, "ks_pvalue": 1e-30},      # significant, no effect
        "major": {"ks": 0.25, "ks_pvalue": 1e-30},
        "psi_only": {"psi": 0.12},                              # no p-value: effect alone
        "empty": {"ks": float("nan"), "ks_pvalue": float("nan")},
    })
    assert {k: (v.drifted, v.severity) for k, v in result.items()} == {
        "big_but_noisy": (False, "none"), "tiny_but_sure": (False, "none"), "major": (True, "major"),
        "psi_only": (True, "minor"), "empty": (False, "none")}
    assert result["psi_only"].pvalue is None and result["major"].qvalue == pytest.approx(2e-30)
    assert result["major"].to_dict()["metric"] == "ks"
    for bad in ({"alpha": 0.0}, {"alpha": 1.5}, {"thresholds": {"ks": (0.2, 0.1)}}, {"thresholds": {"ks": (0.0, 0.1)}}):
        with pytest.raises(DetectorError):
            DriftPolicy(**bad)


def test_bh_across_features_can_drop_a_marginal_feature() -> None:
    # p = 0.03 is significant alone, but not among 20 features whose other p-values are large.
    features = {f"f{i}": {"ks": 0.01, "ks_pvalue": 0.9} for i in range(19)}
    features["marginal"] = {"ks": 0.06, "ks_pvalue": 0.03}
    assert not verdicts(features)["marginal"].drifted
    assert verdicts({"marginal": features["marginal"]})["marginal"].drifted
