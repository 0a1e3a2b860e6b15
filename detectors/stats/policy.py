"""Calibrated drift verdicts across the features of one window.

A feature drifts only when both hold:
1. effect: at least one effect size reaches its `minor` threshold (severity is the highest level
   reached: "major" at or above its `major` threshold, else "minor");
2. significance: where the feature has a p-value (KS for numeric, chi-square for categorical),
   it stays significant after Benjamini-Hochberg across all features of the window that have one
   (q <= alpha). A feature with no p-value is judged on its effect alone.
Large windows make every negligible shift significant (evidently#50, alibi-detect#646): the effect
threshold stops that. Small windows make effects noisy: the significance test stops that.

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
  d ~ 0.5 like PSI's major. A 0.25 std shift gives KS ~ 0.10, twice the minor threshold, so it
  is found in its first 5,000-event window (KS noise there is ~0.01, its p-value ~1e-40).
- False alarms at 5,000 vs 50,000 events: without drift KS exceeds 0.05 with probability
  ~2 exp(-2 * 4545 * 0.05^2) ~ 3e-10 and JS on 10 bins exceeds 0.05 less than once in 10^5 (its
  noise is ~0.02), so the effect test, not BH's 5%, sets the false-alarm rate: ~0 windows in
  1,000 of 20 features (tests/detectors/test_verdicts.py prints the count).
- For windows of a few hundred events the effect noise reaches the minor thresholds (KS noise
  ~ 1/sqrt(n)), and there the BH-adjusted p-value is what holds false alarms at alpha.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType

from detectors.errors import DetectorError
from detectors.stats.fdr import benjamini_hochberg
from detectors.stats.registry import window_statistics

# Declared with each statistic in the registry; keyed here by effect key, as the policy reads them.
DEFAULT_THRESHOLDS: Mapping[str, tuple[float, float]] = MappingProxyType({
    spec.effect_key: spec.thresholds for spec in window_statistics().values() if spec.thresholds is not None})
DEFAULT_PVALUE_KEYS: tuple[str, ...] = tuple(
    spec.pvalue_key for spec in window_statistics().values() if spec.pvalue_key is not None)
_LEVELS = {"none": 0, "minor": 1, "major": 2}


@dataclass(frozen=True)
class FeatureVerdict:
    """The verdict on one feature; `severity` is "none" unless `drifted`.

    `metric`/`effect` name the effect size closest to (or furthest past) its threshold, also when
    the feature did not drift; `pvalue`/`qvalue` are None when the feature had no p-value.

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


class DriftPolicy:
    """Effect size AND Benjamini-Hochberg significance, per feature of one window.

    `thresholds` maps a statistic's key (as in numeric_statistics / categorical_statistics) to
    (minor, major); `pvalue_keys` names the p-values to read (several on one feature are combined
    by Bonferroni: min * count).

    >>> policy = DriftPolicy(alpha=0.05)
    >>> v = policy.evaluate({
    ...     "shifted": {"ks": 0.10, "ks_pvalue": 1e-40, "psi": 0.06},
    ...     "noisy":   {"ks": 0.08, "ks_pvalue": 0.20},
    ...     "steady":  {"ks": 0.01, "ks_pvalue": 0.70},
    ... })
    >>> [(name, x.drifted, x.severity, x.metric) for name, x in v.items()]
    [('shifted', True, 'minor', 'ks'), ('noisy', False, 'none', 'ks'), ('steady', False, 'none', 'ks')]
    """

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        thresholds: Mapping[str, tuple[float, float]] = DEFAULT_THRESHOLDS,
        pvalue_keys: Sequence[str] = DEFAULT_PVALUE_KEYS,
    ) -> None:
        if not 0 < alpha < 1:
            raise DetectorError("alpha must lie in (0, 1)")
        for key, pair in thresholds.items():
            if len(pair) != 2 or not 0 < pair[0] <= pair[1]:
                raise DetectorError(f"threshold {key!r} must be (minor, major) with 0 < minor <= major")
        self.alpha = alpha
        self.thresholds = thresholds
        self.pvalue_keys = pvalue_keys

    def _effect(self, stats: Mapping[str, float]) -> tuple[str, str | None, float | None]:
        """Highest level reached; among equal levels the metric furthest past its minor threshold."""
        best = ("none", None, None, -1.0)
        for key, (minor, major) in self.thresholds.items():
            value = _number(stats, key)
            if math.isnan(value):
                continue
            level = "major" if value >= major else "minor" if value >= minor else "none"
            rank = (_LEVELS[level], value / minor)
            if rank > (_LEVELS[best[0]], best[3]):
                best = (level, key, float(value), value / minor)
        return best[0], best[1], best[2]

    def _pvalue(self, stats: Mapping[str, float]) -> float:
        found = [p for p in (_number(stats, k) for k in self.pvalue_keys) if not math.isnan(p)]
        return min(1.0, min(found) * len(found)) if found else math.nan

    def evaluate(self, features: Mapping[str, Mapping[str, float]]) -> dict[str, FeatureVerdict]:
        """Verdicts for every feature of one window (feature name -> its statistics)."""
        names = list(features)
        pvalues = [self._pvalue(features[name]) for name in names]
        qvalues = benjamini_hochberg(pvalues) if names else []
        out = {}
        for name, p, q in zip(names, pvalues, qvalues):
            level, metric, effect = self._effect(features[name])
            has_p = not math.isnan(p)
            drifted = bool(level != "none" and (not has_p or q <= self.alpha))
            out[name] = FeatureVerdict(
                feature=name, drifted=drifted, severity=level if drifted else "none", metric=metric,
                effect=effect, pvalue=p if has_p else None, qvalue=float(q) if has_p else None)
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

    >>> verdicts({"x": {"psi": 0.3}})["x"].severity
    'major'
    """
    return (policy or DriftPolicy()).evaluate(features)
