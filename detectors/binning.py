"""Vectorised binning of one feature's batch against a profile's bins.

Numeric bins are open at both ends: with inner edges e_1 < ... < e_k a value x falls in bin
i = #{e_j <= x}, so bin 0 is (-inf, e_1) and bin k is [e_k, +inf). Reference and window use the
same function, so ties at an edge land in the same bin on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def bin_numeric(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts per bin (len(edges) + 1) of the non-NaN values, and the number of NaNs.

    >>> counts, missing = bin_numeric(np.array([0.0, 1.0, 1.5, np.nan, 9.0]), np.array([1.0, 2.0]))
    >>> counts.tolist(), missing
    ([1, 2, 1], 1)
    """
    present = values[~np.isnan(values)]
    idx = np.searchsorted(edges, present, side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return counts, int(values.size - present.size)


def bin_categorical(
    values: Sequence[object], index: Mapping[str, int]
) -> tuple[np.ndarray, int, int]:
    """Counts per category (len(index) + 1, the last bucket for unseen values), missing and type errors.

    Missing is None; a value that is not a string (a number where a category is expected) is a
    type error and is counted in no bucket.

    >>> counts, missing, errors = bin_categorical(["a", "b", "z", None, 3], {"a": 0, "b": 1})
    >>> counts.tolist(), missing, errors
    ([1, 1, 1], 1, 1)
    """
    unseen = len(index)
    missing = 0
    errors = 0
    codes = []
    append = codes.append
    for v in values:
        if v.__class__ is str:
            append(index.get(v, unseen))
        elif v is None:
            missing += 1
        else:
            errors += 1
    counts = np.bincount(np.asarray(codes, dtype=np.intp), minlength=unseen + 1)
    return counts, missing, errors
