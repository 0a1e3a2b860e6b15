"""FineGrid: a fine quantile grid of a numeric reference column, the reference side of KS,
Wasserstein and Jensen-Shannon.

The grid keeps ~`cells` reference quantiles as inner edges and the exact number of reference
values in every cell, so the reference CDF is known exactly at every edge (as a left limit:
cells are [e_i, e_{i+1}), the binning of detectors.binning). A window only has to count its
values on the same cells to be compared, which keeps window state small and exactly mergeable.

Tails: the two outer regular cells (1/cells of the reference each) are split further at the
1/(4 cells), 1/(16 cells), ... quantiles while such a tail holds at least one reference value, and
empty cells continue the grid beyond the reference's range by 0.25, 0.5, 1, 2, 4 and 8 reference
standard deviations. Heavy tails and windows that leave the reference range put their mass
exactly there; measured on 50,000 vs 5,000 values, the Wasserstein error drops from 0.10 to
< 0.001 std (Student t3, shift 0.1) and from 0.83 to 0.01 std (normal, shift 3). About 218 cells.

Atoms: a value holding at least a quarter cell of the reference (1/(4 cells); integer counts,
codes, a constant column) gets its own cell [v, next float after v), as the profile does for a
constant column. Without it, a window whose values moved off the atoms (v -> v + 0.4) would
fall in the same cells as before and no statistic could see the change.

`extra_edges` (e.g. the profile's decile edges) are added to the grid so that coarser bins made of
those edges are exact unions of cells: PSI on the profile's bins can then be read off the fine
histogram without binning the window twice.

The lead embeds `to_dict()` into the reference profile; nothing here depends on profile.py.
"""

from __future__ import annotations

import math

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from detectors.binning import bin_numeric
from detectors.errors import DetectorError
from detectors.stats._plain import fingerprint, mean_std
from detectors.stats.excess import wasserstein_noise

GRID_FORMAT_VERSION = 1
DEFAULT_CELLS = 200
_EXTENSION_STDS = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0])


@dataclass(frozen=True)
class FineGrid:
    """Reference quantile grid: inner edges, exact reference counts per cell, min/max/mean/std.

    >>> g = FineGrid.from_values(np.arange(1000.0), cells=4, tails=False)
    >>> g.edges, g.counts, g.count
    ((249.75, 499.5, 749.25), (250, 250, 250, 250), 1000)
    >>> FineGrid.from_dict(g.to_dict()) == g
    True
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    missing: int
    min: float
    max: float
    mean: float
    std: float

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.edges) + 1:
            raise DetectorError("a fine grid needs len(edges) + 1 cell counts")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:])):
            raise DetectorError("fine grid edges must be strictly increasing")
        if min(self.counts) < 0 or sum(self.counts) == 0:
            raise DetectorError("fine grid counts must be non-negative with at least one value")
        if not (np.isfinite([self.min, self.max, self.mean, self.std]).all() and self.min <= self.max):
            raise DetectorError("fine grid min/max/mean/std must be finite with min <= max")

    @classmethod
    def from_values(
        cls, values: np.ndarray | Sequence[float], *, cells: int = DEFAULT_CELLS, tails: bool = True,
        extra_edges: Sequence[float] = (),
    ) -> "FineGrid":
        """Grid of `cells` reference quantiles (ties collapse cells), tail cells unless `tails` is
        False, plus `extra_edges`; NaN is missing."""
        if int(cells) != cells or cells < 2:
            raise DetectorError("a fine grid needs at least 2 cells")
        try:
            values = np.asarray(values, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise DetectorError(f"a numeric reference column expected: {exc}") from exc
        present = values[~np.isnan(values)]
        if present.size == 0:
            raise DetectorError("a numeric reference column needs at least one value")
        if not np.isfinite(present).all():
            raise DetectorError("reference values must be finite (NaN counts as missing)")
        # i / cells rather than linspace: the probabilities k/10 come out exactly as 0.1, 0.2, ...
        probs = np.arange(1, int(cells)) / int(cells)
        extra = np.asarray(extra_edges, dtype=np.float64)
        if not np.isfinite(extra).all():
            raise DetectorError("extra edges must be finite")
        lo, hi = present.min(), present.max()
        mean, std = mean_std(present)
        if tails:
            tail = 1.0 / int(cells) / 4.0 ** np.arange(1, 40)
            tail = tail[tail * present.size >= 1.0]
            probs = np.concatenate([tail, probs, 1.0 - tail])
            if std > 0:
                top = np.finfo(np.float64).max
                extra = np.concatenate([extra, np.clip(lo - std * _EXTENSION_STDS, -top, top),
                                        np.clip(hi + std * _EXTENSION_STDS, -top, top)])
        quantiles = np.unique(np.quantile(present, probs))
        ordered = np.sort(present)
        mass = np.searchsorted(ordered, quantiles, side="right") - np.searchsorted(ordered, quantiles, side="left")
        atoms = quantiles[mass >= max(2.0, present.size / (4.0 * int(cells)))]
        edges = np.unique(np.concatenate([quantiles, np.nextafter(atoms, np.inf), extra]))
        counts, missing = bin_numeric(values, edges)
        return cls(edges=tuple(map(float, edges)), counts=tuple(map(int, counts)), missing=missing,
                   min=float(lo), max=float(hi), mean=mean, std=std)

    @property
    def count(self) -> int:
        """Number of present (non-missing) reference values."""
        return int(sum(self.counts))

    @cached_property
    def edges_array(self) -> np.ndarray:
        return _readonly(np.asarray(self.edges, dtype=np.float64))

    @cached_property
    def counts_array(self) -> np.ndarray:
        return _readonly(np.asarray(self.counts, dtype=np.int64))

    @cached_property
    def shares(self) -> np.ndarray:
        """Reference share of every cell."""
        return _readonly(self.counts_array / self.count)

    @cached_property
    def cdf(self) -> np.ndarray:
        """Reference CDF just below every inner edge, F(e_i-) = share of values < e_i (exact)."""
        return _readonly(np.cumsum(self.counts_array)[:-1] / self.count)

    @cached_property
    def wasserstein_noise(self) -> float:
        """The W1/std noise constant of this reference (detectors/stats/excess.py)."""
        return wasserstein_noise(self.edges_array, self.cdf, self.min, self.max, self.std)

    @cached_property
    def fingerprint(self) -> str:
        """Short hash of the grid: window states remember it to refuse a different reference."""
        return fingerprint(self.to_dict())

    def bin(self, values: np.ndarray) -> tuple[np.ndarray, int]:
        """Counts per cell of the non-NaN values and the number of NaNs (±inf land in the outer cells)."""
        return bin_numeric(np.asarray(values, dtype=np.float64), self.edges_array)

    def cell_groups(self, edges: Sequence[float]) -> np.ndarray:
        """Start index (for np.add.reduceat) of every coarse bin made of cells; edges must be grid edges."""
        coarse = np.asarray(edges, dtype=np.float64)
        pos = np.searchsorted(self.edges_array, coarse)
        inside = pos < len(self.edges)
        if not (inside.all() and np.array_equal(self.edges_array[pos], coarse)):
            raise DetectorError("coarse bin edges must be edges of the fine grid (build it with extra_edges)")
        if np.any(np.diff(pos) <= 0):
            raise DetectorError("coarse bin edges must be strictly increasing")
        return np.concatenate([[0], pos + 1]).astype(np.intp)

    def quantile_groups(self, bins: int) -> np.ndarray:
        """reduceat starts of ~`bins` coarse bins: the grid edges whose reference CDF is nearest k/bins."""
        if int(bins) != bins or bins < 2:
            raise DetectorError("coarse bins must be an integer >= 2")
        cdf = self.cdf
        if cdf.size == 0:
            return np.array([0], dtype=np.intp)
        targets = np.arange(1, int(bins)) / int(bins)
        # Nearest edge by reference mass; ties in a discrete column can pick the same edge twice.
        nearest = np.abs(cdf[None, :] - targets[:, None]).argmin(axis=1)
        return np.concatenate([[0], np.unique(nearest) + 1]).astype(np.intp)

    def to_dict(self) -> dict:
        return {"format_version": GRID_FORMAT_VERSION, "edges": list(self.edges), "counts": list(self.counts),
                "missing": self.missing, "min": self.min, "max": self.max, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, data: Mapping) -> "FineGrid":
        if data.get("format_version") != GRID_FORMAT_VERSION:
            raise DetectorError(f"fine grid format_version {data.get('format_version')!r} is not supported")
        try:
            numbers = [*map(float, data["edges"]), *(float(data[k]) for k in ("min", "max", "mean", "std"))]
            if not all(math.isfinite(v) for v in numbers):
                raise DetectorError("fine grid edges and moments must be finite numbers (found NaN or infinity)")
            return cls(edges=tuple(map(float, data["edges"])), counts=tuple(map(int, data["counts"])),
                       missing=int(data["missing"]), min=float(data["min"]), max=float(data["max"]),
                       mean=float(data["mean"]), std=float(data["std"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DetectorError):
                raise
            raise DetectorError(f"malformed fine grid: {exc!r}") from exc


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
