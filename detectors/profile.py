"""Reference profile: what "no drift" looks like, built once from a reference data set.

Numeric features keep quantile bin edges (open outer bins), the reference share of each bin and
min/max/mean/std; categorical features keep category shares plus an explicit, empty bucket for
values never seen in the reference. Everything is plain JSON-able data with a format version.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from detectors.binning import bin_categorical, bin_numeric
from detectors.errors import DetectorError

PROFILE_FORMAT_VERSION = 1
DEFAULT_BINS = 10


def quantile_edges(present: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's empirical quantiles, so that no reference bin is empty.

    Edges are sample values (inverted-CDF quantiles), not interpolations: with ties an
    interpolated edge could fall strictly between two values and leave a bin empty. Duplicate
    quantiles (ties) collapse into one edge and an edge at the minimum is dropped, so every bin
    [e_i, e_i+1) holds at least e_i. A constant column c gets the edges (c, next float after c):
    a window is compared on "below c", "exactly c" and "above c".

    >>> quantile_edges(np.array([0.0] * 600 + [1.0] * 200 + [2.0] * 200), 10).tolist()
    [1.0, 2.0]
    """
    lo = present.min()
    if lo == present.max():
        return np.array([lo, np.nextafter(lo, np.inf)])
    edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, bins + 1)[1:-1], method="inverted_cdf"))
    return edges[edges > lo]


@dataclass(frozen=True)
class NumericProfile:
    """Quantile bins of a numeric reference column.

    >>> p = NumericProfile.from_values(np.arange(100.0), bins=4)
    >>> p.edges, p.shares
    ((24.0, 49.0, 74.0), (0.24, 0.25, 0.25, 0.26))
    """

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    count: int
    missing_share: float
    min: float
    max: float
    mean: float
    std: float
    # Fine reference grid (detectors.stats.grid.FineGrid) for KS, Wasserstein and JS; its edges
    # include `edges`, so PSI read off the grid equals PSI on the profile's bins.
    grid: Any = None
    kind: str = field(default="numeric", init=False)

    @classmethod
    def from_values(cls, values: np.ndarray, *, bins: int = DEFAULT_BINS) -> "NumericProfile":
        values = np.asarray(values, dtype=np.float64)
        present = values[~np.isnan(values)]
        if present.size == 0:
            raise DetectorError("a numeric reference column needs at least one value")
        edges = quantile_edges(present, bins)
        counts, missing = bin_numeric(values, edges)
        from detectors.stats._plain import mean_std
        from detectors.stats.grid import FineGrid  # deferred: detectors.stats imports this module

        moments = mean_std(present)

        return cls(
            grid=FineGrid.from_values(values, extra_edges=edges),
            edges=tuple(float(e) for e in edges),
            shares=tuple(float(s) for s in counts / present.size),
            count=int(values.size),
            missing_share=missing / values.size,
            min=float(present.min()),
            max=float(present.max()),
            mean=moments[0],
            std=moments[1],
        )

    @property
    def edges_array(self) -> np.ndarray:
        return np.asarray(self.edges, dtype=np.float64)

    def to_dict(self) -> dict:
        data = {"kind": self.kind, "edges": list(self.edges), "shares": list(self.shares), "count": self.count,
                "missing_share": self.missing_share, "min": self.min, "max": self.max, "mean": self.mean,
                "std": self.std}
        if self.grid is not None:
            data["grid"] = self.grid.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> "NumericProfile":
        edges, shares = tuple(map(float, data["edges"])), tuple(map(float, data["shares"]))
        _finite("edges", edges)
        _check_shares(shares)
        _finite("min, max, mean and std", [float(data[k]) for k in ("min", "max", "mean", "std")])
        if len(shares) != len(edges) + 1 or list(edges) != sorted(set(edges)):
            raise DetectorError("numeric profile needs strictly increasing edges and len(edges) + 1 shares")
        grid = None
        if data.get("grid") is not None:
            from detectors.stats.grid import FineGrid

            grid = FineGrid.from_dict(data["grid"])
            if not set(edges) <= set(grid.edges):
                raise DetectorError("the fine grid of a numeric profile must contain its bin edges")
        return cls(edges=edges, shares=shares, count=int(data["count"]), grid=grid,
                   missing_share=float(data["missing_share"]), min=float(data["min"]), max=float(data["max"]),
                   mean=float(data["mean"]), std=float(data["std"]))


@dataclass(frozen=True)
class CategoricalProfile:
    """Category shares of a categorical reference column; the last share is the unseen bucket (0).

    >>> p = CategoricalProfile.from_values(["a", "b", "a", None])
    >>> p.categories, p.shares
    (('a', 'b'), (0.6666666666666666, 0.3333333333333333, 0.0))
    """

    categories: tuple[str, ...]
    shares: tuple[float, ...]
    count: int
    missing_share: float
    kind: str = field(default="categorical", init=False)

    @classmethod
    def from_values(cls, values: Sequence[object]) -> "CategoricalProfile":
        labels = [None if v is None else str(v) for v in values]
        categories = tuple(sorted({v for v in labels if v is not None}))
        if not categories:
            raise DetectorError("a categorical reference column needs at least one value")
        counts, missing, _ = bin_categorical(labels, {c: i for i, c in enumerate(categories)})
        present = len(labels) - missing
        return cls(categories=categories, shares=tuple(float(s) for s in counts / present),
                   count=len(labels), missing_share=missing / len(labels))

    @property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.categories)}

    def to_dict(self) -> dict:
        return {"kind": self.kind, "categories": list(self.categories), "shares": list(self.shares),
                "count": self.count, "missing_share": self.missing_share}

    @classmethod
    def from_dict(cls, data: Mapping) -> "CategoricalProfile":
        categories, shares = tuple(map(str, data["categories"])), tuple(map(float, data["shares"]))
        _check_shares(shares)
        if len(shares) != len(categories) + 1:
            raise DetectorError("categorical profile needs one share per category plus the unseen bucket")
        return cls(categories=categories, shares=shares, count=int(data["count"]),
                   missing_share=float(data["missing_share"]))


FeatureProfile = Union[NumericProfile, CategoricalProfile]


def _finite(what: str, values: Sequence[float]) -> None:
    if not all(math.isfinite(v) for v in values):
        raise DetectorError(f"{what} must be finite numbers (found NaN or infinity)")


def _check_shares(shares: Sequence[float]) -> None:
    """Shares are finite, non-negative and sum to 1 (a corrupted profile would poison every window)."""
    _finite("shares", shares)
    if any(v < 0 for v in shares) or abs(sum(shares) - 1.0) > 1e-6:
        raise DetectorError(f"shares must be non-negative and sum to 1 (they sum to {sum(shares):.6g})")


def feature_profile_from_dict(data: Mapping) -> FeatureProfile:
    kind = data.get("kind")
    if kind == "numeric":
        return NumericProfile.from_dict(data)
    if kind == "categorical":
        return CategoricalProfile.from_dict(data)
    raise DetectorError(f"unknown feature kind {kind!r} (expected 'numeric' or 'categorical')")


@dataclass(frozen=True)
class ReferenceProfile:
    """Profiles of every feature and, optionally, of the prediction.

    >>> ref = build_profile({"amount": [1.0, 2.0, 3.0, None], "country": ["DE", "FR", "DE", "DE"]}, bins=2)
    >>> sorted(ref.features), ref.features["amount"].kind, ref.features["country"].kind
    (['amount', 'country'], 'numeric', 'categorical')
    >>> ReferenceProfile.from_dict(ref.to_dict()) == ref
    True
    """

    features: Mapping[str, FeatureProfile]
    prediction: FeatureProfile | None = None
    rows: int = 0
    format_version: int = PROFILE_FORMAT_VERSION
    # detectors.performance_profile.PerformanceProfile, when built with a label column.
    performance: Any = None

    def to_dict(self) -> dict:
        out = {"format_version": self.format_version, "rows": self.rows,
               "features": {name: p.to_dict() for name, p in self.features.items()},
               "prediction": None if self.prediction is None else self.prediction.to_dict()}
        if self.performance is not None:
            out["performance"] = self.performance.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "ReferenceProfile":
        version = data.get("format_version")
        if version != PROFILE_FORMAT_VERSION:
            raise DetectorError(f"profile format_version {version!r} is not supported (expected {PROFILE_FORMAT_VERSION})")
        try:
            features = {str(k): feature_profile_from_dict(v) for k, v in data["features"].items()}
            prediction = data.get("prediction")
            performance = data.get("performance")
            if performance is not None:
                from detectors.performance_profile import PerformanceProfile  # deferred: it imports stats

                performance = PerformanceProfile.from_dict(performance)
            return cls(features=features, rows=int(data.get("rows", 0)), performance=performance,
                       prediction=None if prediction is None else feature_profile_from_dict(prediction))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DetectorError):
                raise
            raise DetectorError(f"malformed profile: {exc!r}") from exc


def is_numeric_column(values: Sequence[object]) -> bool:
    """A column is numeric when every present value is a number (bools count as 0/1)."""
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))
                                 for v in present)


def build_feature_profile(values: Sequence[object], *, bins: int = DEFAULT_BINS) -> FeatureProfile:
    if is_numeric_column(values):
        return NumericProfile.from_values(np.array(values, dtype=np.float64), bins=bins)
    return CategoricalProfile.from_values(values)


def build_profile(
    columns: Mapping[str, Sequence[object]],
    *,
    bins: int = DEFAULT_BINS,
    prediction: Sequence[object] | None = None,
) -> ReferenceProfile:
    """Profile every column (name -> values, None for missing) and optionally the predictions."""
    if bins < 2:
        raise DetectorError("bins must be at least 2")
    if not columns:
        raise DetectorError("a reference profile needs at least one feature column")
    rows = {len(v) for v in columns.values()}
    if len(rows) != 1:
        raise DetectorError("all reference columns must have the same length")
    features = {}
    for name, values in columns.items():
        try:
            features[name] = build_feature_profile(values, bins=bins)
        except DetectorError as exc:
            raise DetectorError(f"feature {name!r}: {exc}") from exc
    pred = None if prediction is None else build_feature_profile(prediction, bins=bins)
    return ReferenceProfile(features=features, prediction=pred, rows=rows.pop())
