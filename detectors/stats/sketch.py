"""Window states the two-sample statistics read: small, plain-data and exactly mergeable.

GridHistogram counts a numeric window on a FineGrid's cells and keeps its min/max; BinCounts
counts a window on a profile's bins (numeric quantile bins, or categories plus the unseen bucket).
Both hold only integers and two floats, so merging the states of any split of a batch gives
exactly the state of the whole batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from detectors.binning import CodedLabels, bin_categorical, bin_numeric
from detectors.errors import DetectorError
from detectors.profile import CategoricalProfile, NumericProfile
from detectors.stats._plain import fingerprint
from detectors.stats.grid import FineGrid

STATE_FORMAT_VERSION = 1


class _Counts:
    """What both sketches expose: read-only counts, present and missing values."""

    _counts: np.ndarray
    _missing: int

    @property
    def counts(self) -> np.ndarray:
        view = self._counts.view()
        view.flags.writeable = False
        return view

    @property
    def count(self) -> int:
        """Present (non-missing) values."""
        return int(self._counts.sum())

    @property
    def missing(self) -> int:
        return self._missing


class GridHistogram(_Counts):
    """Counts of one numeric window on the cells of a FineGrid, with missing count and min/max.

    ±inf values are counted in the outer cells (as the profile's binning does) but do not move
    min/max, so Wasserstein treats them as lying at the window's finite extreme.

    >>> h = GridHistogram(FineGrid.from_values(np.arange(100.0), cells=4, tails=False))
    >>> h.update(np.array([1.0, 30.0, 99.5, np.nan]))
    >>> h.counts.tolist(), h.count, h.missing, h.min, h.max
    ([1, 1, 0, 1], 3, 1, 1.0, 99.5)
    """

    def __init__(self, grid: FineGrid) -> None:
        if not isinstance(grid, FineGrid):
            raise DetectorError("a GridHistogram needs a FineGrid")
        self.grid = grid
        self._counts = np.zeros(len(grid.edges) + 1, dtype=np.int64)
        self._missing = 0
        self._min = np.inf
        self._max = -np.inf

    @property
    def min(self) -> float | None:
        return float(self._min) if np.isfinite(self._min) else None

    @property
    def max(self) -> float | None:
        return float(self._max) if np.isfinite(self._max) else None

    def update(self, values: np.ndarray | Sequence[float]) -> None:
        """Add a batch of numbers (NaN = missing)."""
        try:
            values = np.asarray(values, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise DetectorError(f"numeric batch expected: {exc}") from exc
        counts, missing = self.grid.bin(values)
        self._counts += counts
        self._missing += missing
        finite = values[np.isfinite(values)]
        if finite.size:
            self._min = min(self._min, float(finite.min()))
            self._max = max(self._max, float(finite.max()))

    def merge(self, other: "GridHistogram") -> "GridHistogram":
        if not isinstance(other, GridHistogram) or other.grid != self.grid:
            raise DetectorError("only histograms on the same fine grid can be merged")
        merged = GridHistogram(self.grid)
        merged._counts = self._counts + other._counts
        merged._missing = self._missing + other._missing
        merged._min = min(self._min, other._min)
        merged._max = max(self._max, other._max)
        return merged

    def coarse_counts(self, starts: np.ndarray) -> np.ndarray:
        """Counts on coarse bins given as reduceat starts (FineGrid.cell_groups / quantile_groups)."""
        return np.add.reduceat(self._counts, starts)

    def to_state(self) -> dict:
        return {"format_version": STATE_FORMAT_VERSION, "grid": self.grid.fingerprint,
                "counts": self._counts.tolist(), "missing": self._missing, "min": self.min, "max": self.max}

    @classmethod
    def from_state(cls, state: Mapping, grid: FineGrid) -> "GridHistogram":
        hist = cls(grid)
        _check_state(state, grid.fingerprint, "grid")
        try:
            counts = np.asarray(state["counts"], dtype=np.int64)
            hist._missing = int(state["missing"])
            hist._min = np.inf if state["min"] is None else float(state["min"])
            hist._max = -np.inf if state["max"] is None else float(state["max"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DetectorError(f"malformed histogram state: {exc!r}") from exc
        if counts.shape != hist._counts.shape or (counts < 0).any():
            raise DetectorError("histogram state does not fit the grid")
        hist._counts = counts
        return hist

    def snapshot(self) -> dict:
        return {"count": self.count, "missing": self._missing, "min": self.min, "max": self.max}


class BinCounts(_Counts):
    """Counts of one window on a profile's bins: numeric quantile bins, or categories + unseen bucket.

    For a categorical profile a non-string value is a type error and lands in no bucket.

    >>> c = BinCounts(CategoricalProfile.from_values(["a", "b", "b"]))
    >>> c.update(["a", "z", None, 7])
    >>> c.counts.tolist(), c.missing, c.type_errors
    ([1, 0, 1], 1, 1)
    """

    def __init__(self, profile: NumericProfile | CategoricalProfile) -> None:
        if not isinstance(profile, (NumericProfile, CategoricalProfile)):
            raise DetectorError("BinCounts needs a NumericProfile or a CategoricalProfile")
        self.profile = profile
        self._numeric = isinstance(profile, NumericProfile)
        self._index = None if self._numeric else profile.index
        self._fingerprint = fingerprint(profile.to_dict())
        self._counts = np.zeros(len(profile.shares), dtype=np.int64)
        self._missing = 0
        self._type_errors = 0

    @property
    def type_errors(self) -> int:
        return self._type_errors

    def update(self, values: np.ndarray | Sequence[object] | CodedLabels) -> None:
        """Add a batch: numbers (NaN missing) for a numeric profile, labels (None missing, or
        dictionary-encoded as CodedLabels) otherwise."""
        if self._numeric:
            try:
                array = np.asarray(values, dtype=np.float64).ravel()
            except (TypeError, ValueError) as exc:
                raise DetectorError(f"numeric batch expected: {exc}") from exc
            counts, missing = bin_numeric(array, self.profile.edges_array)
            errors = 0
        else:
            counts, missing, errors = bin_categorical(values, self._index)
        self._counts += counts
        self._missing += missing
        self._type_errors += errors

    def merge(self, other: "BinCounts") -> "BinCounts":
        if not isinstance(other, BinCounts) or other.profile != self.profile:
            raise DetectorError("only counts on the same profile can be merged")
        merged = BinCounts(self.profile)
        merged._counts = self._counts + other._counts
        merged._missing = self._missing + other._missing
        merged._type_errors = self._type_errors + other._type_errors
        return merged

    def to_state(self) -> dict:
        return {"format_version": STATE_FORMAT_VERSION, "profile": self._fingerprint,
                "counts": self._counts.tolist(), "missing": self._missing, "type_errors": self._type_errors}

    @classmethod
    def from_state(cls, state: Mapping, profile: NumericProfile | CategoricalProfile) -> "BinCounts":
        counts = cls(profile)
        _check_state(state, counts._fingerprint, "profile")
        try:
            values = np.asarray(state["counts"], dtype=np.int64)
            counts._missing = int(state["missing"])
            counts._type_errors = int(state["type_errors"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DetectorError(f"malformed bin counts state: {exc!r}") from exc
        if values.shape != counts._counts.shape or (values < 0).any():
            raise DetectorError("bin counts state does not fit the profile")
        counts._counts = values
        return counts

    def snapshot(self) -> dict:
        return {"count": self.count, "missing": self._missing, "type_errors": self._type_errors}


def _check_state(state: Mapping, expected: str, key: str) -> None:
    if not isinstance(state, Mapping) or state.get("format_version") != STATE_FORMAT_VERSION:
        raise DetectorError("unsupported or malformed window state")
    if state.get(key) != expected:
        raise DetectorError(f"window state was built on a different reference {key}")
