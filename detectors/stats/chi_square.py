"""Chi-square test of a categorical window against the reference's category shares.

method="two_sample" (default): the homogeneity test of the 2 x k table (reference counts, window
counts), as scipy.stats.chi2_contingency(correction=False). The reference is itself a sample, and
treating its shares as exact (goodness of fit) inflates the statistic by about 1 + n/m: 10% at
5,000 window vs 50,000 reference events, which turns a 5% test into an 8% one.

method="goodness_of_fit": scipy.stats.chisquare of the window counts against n * reference shares.

The unseen bucket (reference share 0), and any other zero-share bucket:
- if the window has no value there either, the bucket is left out (it carries no information
  and a zero expected count is undefined);
- two_sample: if the window has values there, the bucket stays in; its expected counts come from
  the column total (window + reference = window), so they are positive and nothing is smoothed;
- goodness_of_fit: if the window has values there, the bucket's expected share is half a
  reference observation, 0.5 / m (m = present reference count), and the seen shares are scaled
  by 1 - that, so expected counts sum to n. A handful of unseen values then dominates the
  statistic: that is intended (a new category is a change), but the chi-square approximation
  is poor for such tiny expected counts, so read the p-value as "very small", not as a number.
Reference counts are recovered as round(share * m) from the profile.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

from detectors.errors import DetectorError
from detectors.profile import CategoricalProfile
from detectors.stats._two_sample import TwoSampleStatistic
from detectors.stats.sketch import BinCounts

METHODS = ("two_sample", "goodness_of_fit")


def reference_counts(profile: CategoricalProfile) -> np.ndarray:
    """Present reference counts per category (+ unseen bucket) recovered from the profile's shares."""
    present = round(profile.count * (1.0 - profile.missing_share))
    return np.rint(np.asarray(profile.shares, dtype=np.float64) * present).astype(np.int64)


def chi_square_test(
    reference: np.ndarray, window: np.ndarray, *, method: str = "two_sample"
) -> dict[str, float]:
    """Chi-square statistic, p-value and degrees of freedom of window counts vs reference counts.

    >>> r = chi_square_test(np.array([500, 500, 0]), np.array([60, 40, 0]))
    >>> round(r["chi2"], 4), round(r["chi2_pvalue"], 4), r["chi2_dof"]
    (3.6376, 0.0565, 1)
    """
    if method not in METHODS:
        raise DetectorError(f"method must be one of {METHODS}")
    ref = np.asarray(reference, dtype=np.float64)
    win = np.asarray(window, dtype=np.float64)
    if ref.shape != win.shape or ref.ndim != 1:
        raise DetectorError("reference and window counts must cover the same buckets")
    if (ref < 0).any() or (win < 0).any():
        raise DetectorError("counts must be non-negative")
    n, m = win.sum(), ref.sum()
    if n == 0 or m == 0:
        nan = float("nan")
        return {"chi2": nan, "chi2_pvalue": nan, "chi2_dof": 0}
    if method == "two_sample":
        keep = (ref + win) > 0
        ref, win = ref[keep], win[keep]
        total = ref + win
        expected_ref, expected_win = total * (m / (m + n)), total * (n / (m + n))
        statistic = np.sum((ref - expected_ref) ** 2 / expected_ref + (win - expected_win) ** 2 / expected_win)
    else:
        keep = (ref > 0) | (win > 0)
        ref, win = ref[keep], win[keep]
        pseudo = np.where(ref == 0, 0.5 / m, 0.0)
        shares = ref / m * (1.0 - pseudo.sum()) + pseudo
        expected = n * shares
        statistic = np.sum((win - expected) ** 2 / expected)
    dof = int(keep.sum()) - 1
    if dof < 1:
        return {"chi2": 0.0, "chi2_pvalue": 1.0, "chi2_dof": 0}
    return {"chi2": float(statistic), "chi2_pvalue": float(chi2.sf(statistic, dof)), "chi2_dof": dof}


class ChiSquare(TwoSampleStatistic):
    """Chi-square test of a categorical window against a CategoricalProfile; mergeable.

    >>> profile = CategoricalProfile.from_values(["a"] * 600 + ["b"] * 400)
    >>> test = ChiSquare(profile, method="two_sample")
    >>> test.update(["a"] * 40 + ["b"] * 60 + ["new"] * 5)
    >>> test.dof, test.pvalue < 0.001, round(test.snapshot()["unseen_share"], 4)
    (2, True, 0.0476)
    """

    name = "chi2"
    _PARAMS = ("method",)

    def __init__(self, reference: CategoricalProfile, *, method: str = "two_sample") -> None:
        if not isinstance(reference, CategoricalProfile):
            raise DetectorError("ChiSquare needs a CategoricalProfile")
        if method not in METHODS:
            raise DetectorError(f"method must be one of {METHODS}")
        self.reference = reference
        self.method = method
        self._reference_counts = reference_counts(reference)
        self._window = BinCounts(reference)

    def _result(self) -> dict[str, float]:
        counts = self._window.counts
        present = int(counts.sum())
        unseen = float(counts[-1]) / present if present else float("nan")
        test = chi_square_test(self._reference_counts, counts, method=self.method)
        return {**test, "unseen_share": unseen}

    @classmethod
    def _window_from_state(cls, state, reference):
        return BinCounts.from_state(state, reference)

    @property
    def statistic(self) -> float:
        return self._result()["chi2"]

    @property
    def pvalue(self) -> float:
        return self._result()["chi2_pvalue"]

    @property
    def dof(self) -> int:
        return self._result()["chi2_dof"]
