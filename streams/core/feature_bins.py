"""A window's share of each profile bin of a feature, next to the reference's: what the
`feature_bins` measurement holds, so a report or Grafana can draw the two distributions.

The bins are the ones the window state already counts (`bin_counts` of its snapshot): a numeric
feature's quantile bins (the profile's `--bins`, 10 by default), a categorical feature's
categories plus the unseen bucket. At most MAX_BINS per feature, so a profile built with many bins
or categories cannot multiply the points of every window: adjacent numeric bins are joined, and
the rarest reference categories are summed into one `(other)` bin.

>>> from detectors.profile import NumericProfile
>>> p = NumericProfile(edges=(0.0, 1.0), shares=(0.25, 0.5, 0.25), count=100, missing_share=0.0,
...                    min=-2.0, max=3.0, mean=0.5, std=1.0)
>>> [(b.index, b.label, b.lower, b.share, b.reference_share) for b in feature_bins(p, [10, 10, 20])]
[(0, '< 0', None, 0.25, 0.25), (1, '[0, 1)', 0.0, 0.25, 0.5), (2, '>= 1', 1.0, 0.5, 0.25)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from detectors.profile import CategoricalProfile, FeatureProfile, NumericProfile

MAX_BINS = 20  # per feature and window
OTHER = "(other)"
UNSEEN = "(unseen)"


@dataclass(frozen=True)
class BinShare:
    index: int
    label: str  # a numeric bin's interval ("[0.5, 1.2)"), or the category's name
    lower: float | None  # a numeric bin's lower edge; None for the open first bin and for categories
    count: int
    share: float  # of the window's present values (missing ones are data_quality's)
    reference_share: float


def feature_bins(profile: FeatureProfile, bin_counts: Sequence[int]) -> list[BinShare]:
    """The bins of one feature in one window; none when the window has no present value."""
    total = sum(bin_counts)
    if total == 0:
        return []
    if isinstance(profile, NumericProfile):
        groups, labels, lowers = _numeric_groups(profile)
    else:
        groups, labels = _category_groups(profile)
        lowers = [None] * len(groups)
    return [BinShare(i, labels[i], lowers[i], count, count / total, sum(profile.shares[j] for j in group))
            for i, group in enumerate(groups) for count in [sum(bin_counts[j] for j in group)]]


def _numeric_groups(profile: NumericProfile) -> tuple[list[list[int]], list[str], list[float | None]]:
    n = len(profile.shares)
    size = math.ceil(n / MAX_BINS)
    groups = [list(range(start, min(start + size, n))) for start in range(0, n, size)]
    bounds = [-math.inf, *profile.edges, math.inf]  # bin j is [bounds[j], bounds[j + 1])
    lowers = [None if g[0] == 0 else bounds[g[0]] for g in groups]
    labels = []
    for g in groups:
        lo, hi = bounds[g[0]], bounds[g[-1] + 1]
        labels.append(f"< {hi:.4g}" if lo == -math.inf else f">= {lo:.4g}" if hi == math.inf
                      else f"[{lo:.4g}, {hi:.4g})")
    return groups, labels, lowers


def _category_groups(profile: CategoricalProfile) -> tuple[list[list[int]], list[str]]:
    """Each category in the profile's order, the last bucket unseen values; past MAX_BINS the
    largest reference categories are kept (ties by order) and the rest are one `(other)` bin."""
    names = list(profile.categories)
    unseen = len(names)
    if unseen + 1 <= MAX_BINS:
        return [[j] for j in range(unseen + 1)], [*names, UNSEEN]
    by_share = sorted(range(unseen), key=lambda j: (-profile.shares[j], j))
    kept = sorted(by_share[:MAX_BINS - 2])
    rest = sorted(by_share[MAX_BINS - 2:])
    return [*([j] for j in kept), rest, [unseen]], [*(names[j] for j in kept), OTHER, UNSEEN]
