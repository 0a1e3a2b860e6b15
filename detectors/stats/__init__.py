"""Statistics beyond PSI: two-sample tests on a fine reference grid, calibrated verdicts, online
change detectors (river) and performance metrics. Pure numpy / scipy / river.

Where things are:
- grid.py FineGrid (reference sketch, embed its to_dict() in the profile); sketch.py the window
  states GridHistogram / BinCounts;
- ks.py, wasserstein.py, jensen_shannon.py, chi_square.py, population_stability.py: one statistic
  each (pure function + mergeable class); summary.py all of one feature's statistics in a dict;
- fdr.py Benjamini-Hochberg; policy.py DriftPolicy / verdicts;
- online.py ADWIN / PageHinkley / DDM; classification.py, regression.py, exact_sum.py: metrics;
- registry.py build_registry(): every statistic by name.
"""

from detectors.stats.chi_square import ChiSquare, chi_square_test
from detectors.stats.classification import BinaryClassificationMetrics, MulticlassMetrics
from detectors.stats.fdr import benjamini_hochberg
from detectors.stats.grid import FineGrid
from detectors.stats.jensen_shannon import JensenShannon, grid_js, js_distance
from detectors.stats.ks import KolmogorovSmirnov, grid_ks, ks_pvalue
from detectors.stats.online import ADWIN, DDM, PageHinkley
from detectors.stats.policy import DEFAULT_THRESHOLDS, DriftPolicy, FeatureVerdict, verdicts
from detectors.stats.population_stability import PSI
from detectors.stats.registry import StatisticSpec, build_registry
from detectors.stats.regression import RegressionMetrics
from detectors.stats.sketch import BinCounts, GridHistogram
from detectors.stats.summary import batch_numeric_statistics, categorical_statistics, numeric_statistics
from detectors.stats.wasserstein import Wasserstein, grid_wasserstein

__all__ = [
    "ADWIN",
    "DDM",
    "DEFAULT_THRESHOLDS",
    "PSI",
    "BinCounts",
    "BinaryClassificationMetrics",
    "ChiSquare",
    "DriftPolicy",
    "FeatureVerdict",
    "FineGrid",
    "GridHistogram",
    "JensenShannon",
    "KolmogorovSmirnov",
    "MulticlassMetrics",
    "PageHinkley",
    "RegressionMetrics",
    "StatisticSpec",
    "Wasserstein",
    "batch_numeric_statistics",
    "benjamini_hochberg",
    "build_registry",
    "categorical_statistics",
    "chi_square_test",
    "grid_js",
    "grid_ks",
    "grid_wasserstein",
    "js_distance",
    "ks_pvalue",
    "numeric_statistics",
    "verdicts",
]
