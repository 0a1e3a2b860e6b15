"""The statistics by name, built explicitly when asked for (no import-time registration).

    registry = build_registry()
    spec = registry["ks"]
    stat = spec.factory(grid)             # reference first for two-sample statistics
    stat.update(values); stat.snapshot()

`inputs` says what update() takes, `reference` what the constructor needs first (None: nothing),
`mergeable` whether merge() exists (sequential online detectors have none), and `function` names
the pure function that computes the same values from a window state, for callers that keep one
GridHistogram / BinCounts per feature and read several statistics off it.

A window statistic (`window`, one a drift verdict can use) also declares, here and nowhere else,
what the worker does with it: `effect_key` and `pvalue_key` (its keys in a feature's window
snapshot, read by the verdict policy), `thresholds` (minor, major) of its effect, `excess` (the
test of "effect above a threshold" at the window's size, excess.py), and `fields`
(InfluxDB field -> snapshot key) of the `feature_drift` measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any

from detectors.psi import psi
from detectors.stats.chi_square import ChiSquare, chi_square_test
from detectors.stats.excess import js_excess, ks_excess, psi_excess, wasserstein_excess
from detectors.stats.classification import BinaryClassificationMetrics, MulticlassMetrics
from detectors.stats.jensen_shannon import JensenShannon, grid_js
from detectors.stats.ks import KolmogorovSmirnov, grid_ks
from detectors.stats.online import ADWIN, DDM, PageHinkley
from detectors.stats.population_stability import PSI
from detectors.stats.regression import RegressionMetrics
from detectors.stats.wasserstein import Wasserstein, grid_wasserstein

INPUTS = ("numeric", "categorical", "numeric_or_categorical", "scalar_stream", "error_stream",
          "scores_and_labels", "class_labels", "regression")
REFERENCES = ("fine_grid", "profile", "categorical_profile")


@dataclass(frozen=True)
class StatisticSpec:
    """How to build and feed one registered statistic.

    >>> spec = build_registry()["chi2"]
    >>> spec.factory.__name__, spec.inputs, spec.reference, spec.mergeable
    ('ChiSquare', 'categorical', 'categorical_profile', True)
    """

    name: str
    factory: type
    inputs: str
    reference: str | None
    mergeable: bool
    summary: str
    function: Callable[..., Any] | None = None
    window: bool = False  # computed for every window, selectable in DRIFTLINE_DRIFT_STATISTICS
    effect_key: str | None = None
    pvalue_key: str | None = None
    thresholds: tuple[float, float] | None = None  # (minor, major) of the effect; see policy.py for why
    # P-value of "effect <= threshold" at the window's size: (value, threshold, statistics) -> p (excess.py)
    excess: Callable[[float, float, Mapping[str, float]], float] | None = None
    fields: Mapping[str, str] = field(default_factory=dict)  # InfluxDB field -> snapshot key


def _fields(**names: str) -> Mapping[str, str]:
    return MappingProxyType(names)


def build_registry() -> dict[str, StatisticSpec]:
    """A fresh name -> StatisticSpec mapping of every statistic in detectors.stats.

    >>> sorted(build_registry())[:4]
    ['adwin', 'binary_classification', 'chi2', 'ddm']
    """
    specs = [
        StatisticSpec("psi", PSI, "numeric_or_categorical", "profile", True,
                      "Population Stability Index over the profile's bins (epsilon-smoothed)", psi,
                      window=True, effect_key="psi", thresholds=(0.1, 0.25), excess=psi_excess,
                      fields=_fields(psi="psi")),
        StatisticSpec("ks", KolmogorovSmirnov, "numeric", "fine_grid", True,
                      "two-sample Kolmogorov-Smirnov on the fine grid, p-value and error bound", grid_ks,
                      window=True, effect_key="ks", pvalue_key="ks_pvalue", thresholds=(0.05, 0.2), excess=ks_excess,
                      fields=_fields(ks="ks", ks_p="ks_pvalue")),
        StatisticSpec("chi2", ChiSquare, "categorical", "categorical_profile", True,
                      "chi-square of category counts vs the reference (two-sample by default)", chi_square_test,
                      window=True, pvalue_key="chi2_pvalue", fields=_fields(chi2="chi2", chi2_p="chi2_pvalue")),
        StatisticSpec("js", JensenShannon, "numeric", "fine_grid", True,
                      "Jensen-Shannon distance on coarse bins of the fine grid", grid_js,
                      window=True, effect_key="js", thresholds=(0.05, 0.2), excess=js_excess, fields=_fields(js="js")),
        StatisticSpec("wasserstein", Wasserstein, "numeric", "fine_grid", True,
                      "Wasserstein-1 on the fine grid, in data units and reference std, with bound",
                      grid_wasserstein, window=True, effect_key="wasserstein_std", thresholds=(0.125, 0.5),
                      excess=wasserstein_excess,
                      fields=_fields(wasserstein="wasserstein", wasserstein_std="wasserstein_std")),
        StatisticSpec("adwin", ADWIN, "scalar_stream", None, False, "river ADWIN with a refractory rule"),
        StatisticSpec("page_hinkley", PageHinkley, "scalar_stream", None, False,
                      "river Page-Hinkley with a refractory rule"),
        StatisticSpec("ddm", DDM, "error_stream", None, False, "river DDM on 0/1 errors with a refractory rule"),
        StatisticSpec("binary_classification", BinaryClassificationMetrics, "scores_and_labels", None, True,
                      "accuracy, precision, recall, F1, macro F1, exact AUC, Gini, KS of scores"),
        StatisticSpec("multiclass_classification", MulticlassMetrics, "class_labels", None, True,
                      "accuracy and macro precision / recall / F1"),
        StatisticSpec("regression", RegressionMetrics, "regression", None, True,
                      "RMSE, MSE, MAE, R^2 and bias from exact sums"),
    ]
    return {spec.name: spec for spec in specs}


@cache
def window_statistics() -> Mapping[str, StatisticSpec]:
    """The statistics every window computes per feature, by name (the registry's `window` ones).

    >>> list(window_statistics())
    ['psi', 'ks', 'chi2', 'js', 'wasserstein']
    >>> window_statistics()["wasserstein"].effect_key
    'wasserstein_std'
    """
    return MappingProxyType({name: spec for name, spec in build_registry().items() if spec.window})


def statistic_of(effect_key: str) -> str:
    """The registered name of the statistic an effect key belongs to ("wasserstein_std" -> "wasserstein")."""
    return next((n for n, spec in window_statistics().items() if spec.effect_key == effect_key), effect_key)
