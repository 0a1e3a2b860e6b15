"""Per-feature window state: the drift statistics and quality shares of one feature in one window.

Counting is done by the sketches of detectors/stats (a GridHistogram on the profile's fine grid,
or BinCounts on its bins); this layer adds what the worker reports: PSI and the two-sample
statistics, missing / out-of-range / unseen shares and type errors. A state is updated with a
whole batch (vectorised) and two states of one window (two partitions, two workers) merge exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detectors.binning import CodedLabels
from detectors.errors import DetectorError
from detectors.profile import CategoricalProfile, FeatureProfile, NumericProfile
from detectors.psi import psi
from detectors.stats.chi_square import chi_square_test, reference_counts
from detectors.stats.registry import window_statistics
from detectors.stats.sketch import BinCounts, GridHistogram
from detectors.stats.excess import (JS_CELLS, PSI_CELLS, REFERENCE_N, WASSERSTEIN_BOUND, WASSERSTEIN_NOISE,
                                    WINDOW_N)
from detectors.stats.summary import categorical_sizes, numeric_statistics

# The snapshot keys of the statistics read off the fine grid (as the registry declares them).
_GRID_STATISTICS = tuple(key for spec in window_statistics().values() if spec.reference == "fine_grid"
                         for key in spec.fields.values())
# What the threshold tests read off the grid (PSI's cells are the profile's).
_GRID_SIZES = (REFERENCE_N, JS_CELLS, WASSERSTEIN_NOISE, WASSERSTEIN_BOUND)


def _shares(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


class NumericWindowState:
    """Window counts of a numeric feature over its profile's quantile bins.

    With a fine grid in the profile, values are binned once on the grid, and PSI (on the
    profile's bins, which are grid edges), KS, Wasserstein and JS are all read off it.

    >>> prof = NumericProfile.from_values(np.arange(1000.0), bins=10)
    >>> s = NumericWindowState(prof)
    >>> s.update(np.arange(0.0, 1000.0, 2.0))
    >>> round(s.snapshot()["psi"], 3), s.snapshot()["missing_share"]
    (0.0, 0.0)
    """

    def __init__(self, profile: NumericProfile) -> None:
        self.profile = profile
        self._bins: GridHistogram | BinCounts = (
            BinCounts(profile) if profile.grid is None else GridHistogram(profile.grid))
        self._type_errors = 0
        self._out_of_range = 0

    @property
    def sketch(self) -> GridHistogram | BinCounts:
        """The counts behind the statistics (read-only use)."""
        return self._bins

    @property
    def bin_counts(self) -> np.ndarray:
        """Counts on the profile's bins."""
        if isinstance(self._bins, BinCounts):
            return self._bins.counts
        return self._bins.coarse_counts(self.profile.grid.cell_groups(self.profile.edges))

    @property
    def count(self) -> int:
        return self._bins.count + self._bins.missing + self._type_errors

    def update(self, values: np.ndarray, type_errors: int = 0) -> None:
        """Add a batch (NaN = missing); `type_errors` counts values that were not numbers."""
        values = np.asarray(values, dtype=np.float64)
        self._bins.update(values)
        self._type_errors += int(type_errors)
        with np.errstate(invalid="ignore"):
            self._out_of_range += int(np.count_nonzero((values < self.profile.min) | (values > self.profile.max)))

    def merge(self, other: "NumericWindowState") -> "NumericWindowState":
        if other.profile != self.profile:
            raise DetectorError("only states built on the same profile can be merged")
        merged = NumericWindowState(self.profile)
        merged._bins = self._bins.merge(other._bins)
        merged._type_errors = self._type_errors + other._type_errors
        merged._out_of_range = self._out_of_range + other._out_of_range
        return merged

    def to_state(self) -> dict:
        """Plain data that `from_state` restores exactly (to merge windows of other partitions)."""
        return {"sketch": self._bins.to_state(), "type_errors": self._type_errors, "out_of_range": self._out_of_range}

    @classmethod
    def from_state(cls, state: dict, profile: NumericProfile) -> "NumericWindowState":
        restored = cls(profile)
        sketch = state["sketch"]
        restored._bins = (BinCounts.from_state(sketch, profile) if profile.grid is None
                          else GridHistogram.from_state(sketch, profile.grid))
        restored._type_errors = _count(state, "type_errors")
        restored._out_of_range = _count(state, "out_of_range")
        return restored

    def snapshot(self) -> dict[str, float | int | list[int]]:
        counts = self.bin_counts
        present = int(counts.sum())
        total = self.count
        snap = {
            "count": total,
            "psi": psi(np.asarray(self.profile.shares), counts),
            "missing_share": _shares(self._bins.missing, total),
            "out_of_range_share": _shares(self._out_of_range, present),
            "type_errors": self._type_errors,
            "bin_counts": counts.tolist(),
            # What the threshold tests need (detectors/stats/excess.py): sizes and PSI's cells.
            WINDOW_N: present,
            REFERENCE_N: round(self.profile.count * (1.0 - self.profile.missing_share)),
            PSI_CELLS: len(self.profile.shares),
        }
        if isinstance(self._bins, GridHistogram):
            stats = numeric_statistics(self._bins, psi_edges=self.profile.edges)
            snap.update({k: stats[k] for k in _GRID_STATISTICS + _GRID_SIZES})
        return snap


class CategoricalWindowState:
    """Window counts of a categorical feature over its profile's categories plus an unseen bucket.

    >>> s = CategoricalWindowState(CategoricalProfile.from_values(["a", "b"]))
    >>> s.update(["a", "b", "c", None])
    >>> snap = s.snapshot()
    >>> snap["unseen_share"], snap["missing_share"]
    (0.3333333333333333, 0.25)
    """

    def __init__(self, profile: CategoricalProfile) -> None:
        self.profile = profile
        self._bins = BinCounts(profile)
        self._reference = reference_counts(profile)

    @property
    def sketch(self) -> BinCounts:
        """The counts behind the statistics (read-only use)."""
        return self._bins

    @property
    def count(self) -> int:
        return self._bins.count + self._bins.missing + self._bins.type_errors

    def update(self, values: Sequence[object] | CodedLabels) -> None:
        """Add a batch of labels; None is missing, a non-string is a type error (or the batch
        dictionary-encoded, see CodedLabels)."""
        self._bins.update(values)

    def merge(self, other: "CategoricalWindowState") -> "CategoricalWindowState":
        if other.profile != self.profile:
            raise DetectorError("only states built on the same profile can be merged")
        merged = CategoricalWindowState(self.profile)
        merged._bins = self._bins.merge(other._bins)
        return merged

    def to_state(self) -> dict:
        return {"sketch": self._bins.to_state()}

    @classmethod
    def from_state(cls, state: dict, profile: CategoricalProfile) -> "CategoricalWindowState":
        restored = cls(profile)
        restored._bins = BinCounts.from_state(state["sketch"], profile)
        return restored

    def snapshot(self) -> dict[str, float | int | list[int]]:
        counts = self._bins.counts
        total = self.count
        test = chi_square_test(self._reference, counts)
        return {
            "count": total,
            "psi": psi(np.asarray(self.profile.shares), counts),
            "chi2": test["chi2"],
            "chi2_pvalue": test["chi2_pvalue"],
            "missing_share": _shares(self._bins.missing, total),
            "unseen_share": _shares(int(counts[-1]), int(counts.sum())),
            "type_errors": self._bins.type_errors,
            "bin_counts": counts.tolist(),
            **categorical_sizes(self.profile, int(counts.sum())),
        }


def _count(state: dict, key: str) -> int:
    value = state[key]
    if value.__class__ is not int or value < 0:
        raise DetectorError(f"window state {key} must be a non-negative integer")
    return value


def window_state_from(state: dict, profile: FeatureProfile) -> NumericWindowState | CategoricalWindowState:
    if isinstance(profile, NumericProfile):
        return NumericWindowState.from_state(state, profile)
    return CategoricalWindowState.from_state(state, profile)


def new_window_state(profile: FeatureProfile) -> NumericWindowState | CategoricalWindowState:
    if isinstance(profile, NumericProfile):
        return NumericWindowState(profile)
    return CategoricalWindowState(profile)
