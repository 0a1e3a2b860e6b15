"""Turn a group of decoded events into the columns a window state takes.

This is the only per-event Python work after decoding: one list comprehension per profiled
feature, then numpy does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_PLAIN_NUMERIC = frozenset({float, int, bool, type(None)})


def numeric_column(features: Sequence[dict], name: str) -> tuple[np.ndarray, int]:
    """A float column (NaN = missing) and the count of values that were not numbers."""
    raw = [f.get(name) for f in features]
    if _PLAIN_NUMERIC.issuperset(map(type, raw)):
        # None becomes NaN, bools 0/1. (numpy would also parse "1.5": strings take the slow path.)
        return np.array(raw, dtype=np.float64), 0
    errors = 0
    clean = []
    for v in raw:
        if v is None or v.__class__ in (int, float, bool):
            clean.append(v)
        else:
            clean.append(None)
            errors += 1
    return np.array(clean, dtype=np.float64), errors


def categorical_column(features: Sequence[dict], name: str) -> list[object]:
    return [f.get(name) for f in features]


def latency_column(events: Sequence[dict]) -> np.ndarray:
    return np.array([e.get("latency_ms") for e in events], dtype=np.float64)
