"""Per-feature window state: bin counts against the profile, missing and type errors; mergeable.

A state is updated with a whole batch of one feature's values (vectorised) and two states of the
same window (two partitions, two workers) merge by adding counts, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detectors.binning import bin_categorical, bin_numeric
from detectors.errors import DetectorError
from detectors.profile import CategoricalProfile, FeatureProfile, NumericProfile
from detectors.psi import psi
from detectors.stats.chi_square import chi_square_test, reference_counts
from detectors.stats.sketch import GridHistogram
from detectors.stats.summary import numeric_statistics


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
        self._edges = profile.edges_array
        self._counts = np.zeros(len(profile.edges) + 1, dtype=np.int64)
        self._missing = 0
        self._type_errors = 0
        self._out_of_range = 0
        self._hist = None if profile.grid is None else GridHistogram(profile.grid)

    @property
    def bin_counts(self) -> np.ndarray:
        """Counts on the profile's bins."""
        if self._hist is None:
            return self._counts
        return self._hist.coarse_counts(self.profile.grid.cell_groups(self.profile.edges))

    @property
    def missing(self) -> int:
        return self._missing if self._hist is None else self._hist.missing

    @property
    def count(self) -> int:
        return int(self.bin_counts.sum()) + self.missing + self._type_errors

    def update(self, values: np.ndarray, type_errors: int = 0) -> None:
        """Add a batch (NaN = missing); `type_errors` counts values that were not numbers."""
        values = np.asarray(values, dtype=np.float64)
        if self._hist is not None:
            self._hist.update(values)
        else:
            counts, missing = bin_numeric(values, self._edges)
            self._counts += counts
            self._missing += missing
        self._type_errors += int(type_errors)
        with np.errstate(invalid="ignore"):
            self._out_of_range += int(np.count_nonzero((values < self.profile.min) | (values > self.profile.max)))

    def merge(self, other: "NumericWindowState") -> "NumericWindowState":
        if other.profile != self.profile:
            raise DetectorError("only states built on the same profile can be merged")
        merged = NumericWindowState(self.profile)
        merged._counts = self._counts + other._counts
        merged._missing = self._missing + other._missing
        merged._type_errors = self._type_errors + other._type_errors
        merged._out_of_range = self._out_of_range + other._out_of_range
        if self._hist is not None:
            merged._hist = self._hist.merge(other._hist)
        return merged

    def snapshot(self) -> dict[str, float | int | list[int]]:
        counts = self.bin_counts
        present = int(counts.sum())
        total = present + self.missing + self._type_errors
        snap = {
            "count": total,
            "psi": psi(np.asarray(self.profile.shares), counts),
            "missing_share": self.missing / total if total else float("nan"),
            "out_of_range_share": self._out_of_range / present if present else float("nan"),
            "type_errors": self._type_errors,
            "bin_counts": counts.tolist(),
        }
        if self._hist is not None:
            stats = numeric_statistics(self._hist, psi_edges=self.profile.edges)
            snap.update({k: stats[k] for k in ("ks", "ks_pvalue", "js", "wasserstein", "wasserstein_std")})
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
        self._index = profile.index
        self._reference = reference_counts(profile)
        self._counts = np.zeros(len(profile.categories) + 1, dtype=np.int64)
        self._missing = 0
        self._type_errors = 0

    @property
    def count(self) -> int:
        return int(self._counts.sum()) + self._missing + self._type_errors

    def update(self, values: Sequence[object]) -> None:
        """Add a batch of labels; None is missing, a non-string is a type error."""
        counts, missing, errors = bin_categorical(values, self._index)
        self._counts += counts
        self._missing += missing
        self._type_errors += errors

    def merge(self, other: "CategoricalWindowState") -> "CategoricalWindowState":
        if other.profile != self.profile:
            raise DetectorError("only states built on the same profile can be merged")
        merged = CategoricalWindowState(self.profile)
        merged._counts = self._counts + other._counts
        merged._missing = self._missing + other._missing
        merged._type_errors = self._type_errors + other._type_errors
        return merged

    def snapshot(self) -> dict[str, float | int | list[int]]:
        total = self.count
        present = int(self._counts.sum())
        test = chi_square_test(self._reference, self._counts)
        return {
            "count": total,
            "psi": psi(np.asarray(self.profile.shares), self._counts),
            "chi2": test["chi2"],
            "chi2_pvalue": test["chi2_pvalue"],
            "missing_share": self._missing / total if total else float("nan"),
            "unseen_share": int(self._counts[-1]) / present if present else float("nan"),
            "type_errors": self._type_errors,
            "bin_counts": self._counts.tolist(),
        }


def new_window_state(profile: FeatureProfile) -> NumericWindowState | CategoricalWindowState:
    if isinstance(profile, NumericProfile):
        return NumericWindowState(profile)
    return CategoricalWindowState(profile)
