"""Calibrated drift verdicts across the features of one window.

A feature drifts when one of its effect sizes is *significantly above* its `minor` threshold at
the window's size, after Benjamini-Hochberg across the window's features:
1. per effect (PSI, KS, JS, W1/std), the one-sided p-value of H0 "effect <= minor" given the
   estimate, the window's and the reference's sizes (detectors/stats/excess.py derives each);
2. per feature, the smallest of its effects' p-values times their number (Bonferroni);
3. across the features, BH: the feature drifts when its q-value is <= alpha.
Severity is "major" when some effect is significantly above its `major` threshold as well (its
p-value vs major, times the number of effects, <= alpha), else "minor".

Why: an effect threshold says how large a change matters, and at small n sampling noise alone
reaches it (KS noise is ~1/sqrt(n): at 2,000 events the minor KS threshold is ~2 noise sigmas,
and "estimate >= threshold and KS p BH-significant" flagged 3-8 of 1,000 drift-free windows of
25 features). Testing the threshold itself holds the false-alarm rate at every window size; large
windows still need the effect, so negligible shifts stay quiet (evidently#50, alibi-detect#646).
The KS and chi-square p-values are still computed and written; they test "any difference", which
the threshold test implies.

Default thresholds (minor, major), and why. For a shift of d reference standard deviations of a
normal feature, the population values are (10 quantile bins for PSI and JS, JS with base 2):

    d      PSI     KS      JS      W1/std
    0.125  0.015   0.050   0.052   0.125
    0.25   0.060   0.100   0.104   0.25
    0.33   0.104   0.131   0.136   0.33
    0.5    0.238   0.197   0.205   0.5

- psi (0.1, 0.25): the industry convention; it sits at d ~ 0.33 / 0.5, so PSI alone misses a
  0.25 std shift (PSI ~ 0.06, far below the 0.2 some teams use).
- ks (0.05, 0.2), js (0.05, 0.2), wasserstein_std (0.125, 0.5): minor at d ~ 0.125, major at
  d ~ 0.5 like PSI's major. A 0.25 std shift gives KS ~ 0.10 and W1/std 0.25, twice the minor
  thresholds: at 5,000 events their excess over minor is 3-8 noise radii, so the shift is found in
  its first window (W1/std finds it for every shape: it equals d for any location shift).
- The figures (tests/detectors/test_calibration.py, printed by the test run): drift-free windows
  of 20 numeric + 5 categorical features flag at most 1 in 1,000 at 200 to 50,000 events.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType

from detectors.errors import DetectorError
from detectors.stats.fdr import benjamini_hochberg
from detectors.stats.registry import window_statistics

# Declared with each statistic in the registry; keyed here by effect key, as the policy reads them.
DEFAULT_THRESHOLDS: Mapping[str, tuple[float, float]] = MappingProxyType({
    spec.effect_key: spec.thresholds for spec in window_statistics().values() if spec.thresholds is not None})
# Each effect's test of "above a threshold", as the registry declares it.
_EXCESS = MappingProxyType({
    spec.effect_key: spec.excess for spec in window_statistics().values() if spec.excess is not None})


@dataclass(frozen=True)
class FeatureVerdict:
    """The verdict on one feature; `severity` is "none" unless `drifted`.

    `metric`/`effect` name the effect that decided (or, when the feature did not drift, the one
    closest to firing); `pvalue` is the p-value of "no effect above its minor threshold"
    (Bonferroni over the feature's effects) and `qvalue` its BH adjustment across the window's
    features; both None when the feature had no effect to test (an empty window).

    >>> FeatureVerdict("x", True, "minor", "ks", 0.08, 1e-9, 2e-8).to_dict()["severity"]
    'minor'
    """

    feature: str
    drifted: bool
    severity: str
    metric: str | None
    effect: float | None
    pvalue: float | None
    qvalue: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Tested:
    """One feature's effects tested against their thresholds."""

    pvalue: float  # vs minor, Bonferroni over the effects; NaN when nothing was tested
    major: bool
    metric: str | None
    effect: float | None


class DriftPolicy:
    """Effects significantly above their thresholds, with BH across the features of one window.

    `thresholds` maps an effect key (as in numeric_statistics / categorical_statistics) to
    (minor, major). A feature's statistics must carry the sizes the tests read (`window_n`,
    `reference_n`, and `psi_cells` / `js_cells` / `wasserstein_noise` for those effects), as the
    window states' snapshots and detectors.stats.summary do.

    >>> policy = DriftPolicy(alpha=0.05)
    >>> sizes = {"window_n": 5000, "reference_n": 50000}
    >>> v = policy.evaluate({
    ...     "shifted": {"ks": 0.10, **sizes},
    ...     "noisy":   {"ks": 0.06, **sizes},
    ...     "steady":  {"ks": 0.01, **sizes},
    ... })
    >>> [(name, x.drifted, x.severity, x.metric) for name, x in v.items()]
    [('shifted', True, 'minor', 'ks'), ('noisy', False, 'none', 'ks'), ('steady', False, 'none', 'ks')]
    """

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        thresholds: Mapping[str, tuple[float, float]] = DEFAULT_THRESHOLDS,
    ) -> None:
        if not 0 < alpha < 1:
            raise DetectorError("alpha must lie in (0, 1)")
        for key, pair in thresholds.items():
            if len(pair) != 2 or not 0 < pair[0] <= pair[1]:
                raise DetectorError(f"threshold {key!r} must be (minor, major) with 0 < minor <= major")
            if key not in _EXCESS:
                raise DetectorError(f"no threshold test for effect {key!r} (known: {', '.join(_EXCESS)})")
        self.alpha = alpha
        self.thresholds = thresholds

    def _test(self, stats: Mapping[str, float]) -> _Tested:
        """Every present effect against (minor, major); the first effect (registry order) that is
        significant at the highest level reached decides, else the one closest to firing."""
        rows = []
        for key, (minor, major) in self.thresholds.items():
            value = _number(stats, key)
            if math.isnan(value):
                continue
            test = _EXCESS[key]
            rows.append((key, value, test(value, minor, stats), test(value, major, stats)))
        if not rows:
            return _Tested(math.nan, False, None, None)
        count = len(rows)
        pvalue = min(1.0, min(r[2] for r in rows) * count)
        majors = [r for r in rows if r[3] * count <= self.alpha]
        minors = [r for r in rows if r[2] * count <= self.alpha]
        key, value = (majors or minors or [min(rows, key=lambda r: r[2])])[0][:2]
        return _Tested(pvalue, bool(majors), key, float(value))

    def evaluate(self, features: Mapping[str, Mapping[str, float]]) -> dict[str, FeatureVerdict]:
        """Verdicts for every feature of one window (feature name -> its statistics)."""
        names = list(features)
        tested = [self._test(features[name]) for name in names]
        qvalues = benjamini_hochberg([t.pvalue for t in tested]) if names else []
        out = {}
        for name, t, q in zip(names, tested, qvalues):
            has_p = not math.isnan(t.pvalue)
            drifted = bool(has_p and q <= self.alpha)
            severity = ("major" if t.major else "minor") if drifted else "none"
            out[name] = FeatureVerdict(
                feature=name, drifted=drifted, severity=severity, metric=t.metric, effect=t.effect,
                pvalue=t.pvalue if has_p else None, qvalue=float(q) if has_p else None)
        return out


def _number(stats: Mapping[str, float], key: str) -> float:
    """The statistic as a float, NaN when absent (None or missing: an empty window)."""
    value = stats.get(key)
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise DetectorError(f"statistic {key!r} must be a number, got {value!r}") from exc


def verdicts(
    features: Mapping[str, Mapping[str, float]], policy: DriftPolicy | None = None
) -> dict[str, FeatureVerdict]:
    """DriftPolicy().evaluate(features) with the default policy unless one is given.

    >>> verdicts({"x": {"psi": 0.6, "window_n": 5000, "reference_n": 50000, "psi_cells": 10}})["x"].severity
    'major'
    """
    return (policy or DriftPolicy()).evaluate(features)
