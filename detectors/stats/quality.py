"""Data-quality verdicts: did a feature's missing share, out-of-range share, unseen-category share or
type-error share rise above what its reference had?

Each statistic is declared once, in QUALITY_STATISTICS: the snapshot key of its share, what the
share is of (every event, or the present values), and its reference share. A verdict tests what its threshold means: that the share rose by more than the minor threshold
(default 0.02 absolute share points; major 0.10), not merely that it rose. With k such events
out of n and reference share p0, the p-value is the one-sided binomial P[X >= k] for X ~ B(n,
p0 + minor): small only when k/n is significantly above p0 + minor. The window's quality tests
are adjusted together (Benjamini-Hochberg, q <= alpha); the severity is major when the same test
against p0 + major is significant at alpha too. So at small n, where k/n is noisy, a point
estimate just past the threshold does not fire, and the false-alarm rate holds at every window
size. A reference share of 0 (no out-of-range values can be in the reference, nor unseen
categories, nor type errors) is taken as half an event of the reference's count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from detectors.stats.fdr import benjamini_hochberg


@dataclass(frozen=True)
class QualityStatistic:
    """One data-quality statistic's declaration.

    >>> QUALITY_STATISTICS["unseen_categories"].share_key
    'unseen_share'
    """

    name: str
    share_key: str  # in a feature's window snapshot
    of_present: bool  # the share is of present (non-missing) values, else of every event
    kinds: tuple[str, ...]  # feature kinds it applies to


QUALITY_STATISTICS = {s.name: s for s in (
    QualityStatistic("missing_share", "missing_share", False, ("numeric", "categorical")),
    QualityStatistic("out_of_range", "out_of_range_share", True, ("numeric",)),
    QualityStatistic("unseen_categories", "unseen_share", True, ("categorical",)),
    QualityStatistic("type_errors", "type_errors", False, ("numeric", "categorical")),
)}
DEFAULT_QUALITY_THRESHOLDS = {name: (0.02, 0.10) for name in QUALITY_STATISTICS}


@dataclass(frozen=True)
class QualityVerdict:
    """The verdict on one feature's quality statistic in one window.

    >>> QualityVerdict("x", "missing_share", 0.05, 0.0, 0.05, 1e-9, 1e-8, "minor").drifted
    True
    """

    feature: str
    statistic: str
    share: float
    reference_share: float
    effect: float  # share - reference share
    pvalue: float
    qvalue: float
    severity: str  # "none", "minor", "major"

    @property
    def drifted(self) -> bool:
        return self.severity != "none"


def quality_verdicts(features: dict, profiles: dict, *, alpha: float = 0.05,
                     thresholds: dict[str, tuple[float, float]] | None = None) -> list[QualityVerdict]:
    """`features`: feature -> window snapshot; `profiles`: feature -> its FeatureProfile."""
    thresholds = thresholds or DEFAULT_QUALITY_THRESHOLDS
    rows = []
    for feature, snap in features.items():
        profile = profiles.get(feature)
        total = int(snap.get("count", 0))
        if profile is None or total == 0:
            continue
        missing = snap.get("missing_share", 0.0)
        missing = 0.0 if missing != missing else float(missing)
        present = total - int(round(missing * total))
        for stat in QUALITY_STATISTICS.values():
            if profile.kind not in stat.kinds or stat.share_key not in snap:
                continue
            n = present if stat.of_present else total
            if n <= 0:
                continue
            if stat.name == "type_errors":
                k = int(snap["type_errors"])
            else:
                share = snap[stat.share_key]
                if share != share:
                    continue
                k = int(round(float(share) * n))
            reference = float(profile.missing_share) if stat.name == "missing_share" else 0.0
            rows.append((feature, stat.name, k, n, reference, max(reference, 0.5 / max(profile.count, 1))))
    if not rows:
        return []
    def above(k: int, n: int, p: float) -> float:
        return float(binom.sf(k - 1, n, min(p, 1.0))) if k > 0 else 1.0

    pvalues = np.array([above(k, n, p0 + thresholds[name][0]) for _, name, k, n, _, p0 in rows])
    qvalues = benjamini_hochberg(pvalues)
    out = []
    for (feature, name, k, n, reference, p0), p, q in zip(rows, pvalues, qvalues):
        share = k / n
        level = "none"
        if q <= alpha:
            level = "major" if above(k, n, p0 + thresholds[name][1]) <= alpha else "minor"
        out.append(QualityVerdict(feature, name, share, reference, share - reference, float(p), float(q), level))
    return out
