"""Turn a group of decoded events into the columns a window state takes.

This is the only per-event Python work after decoding: one C-level key lookup per event for all
numeric features at once (operator.itemgetter), one numpy conversion, and a type check over the
block; the per-column path is the fallback for absent keys and wrongly typed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from operator import itemgetter

import numpy as np

_PLAIN_NUMERIC = frozenset({float, int, bool, type(None)})


def numeric_column(features: Sequence[dict], name: str) -> tuple[np.ndarray, int]:
    """A float column (NaN = missing) and the count of values that were not numbers."""
    return float_column([f.get(name) for f in features])


def float_column(raw: Sequence[object]) -> tuple[np.ndarray, int]:
    """Values as floats (None -> NaN, bools 0/1); anything else is a type error, counted as NaN."""
    if _PLAIN_NUMERIC.issuperset(map(type, raw)):
        # (numpy would also parse "1.5": strings take the slow path and count as type errors.)
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


def numeric_block(features: Sequence[dict], names: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """All numeric columns at once: name -> float column, and name -> type errors."""
    if not names:
        return {}, {}
    getter = itemgetter(*names)
    try:
        rows = [getter(f) for f in features]
    except KeyError:  # some event lacks a feature: that is "missing", handled per column
        rows = None
    if rows is not None and len(names) == 1:
        rows = [(v,) for v in rows]
    if rows is not None and _PLAIN_NUMERIC.issuperset(map(type, chain.from_iterable(rows))):
        matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(names)).T.copy()
        return dict(zip(names, matrix)), {}
    columns, errors = {}, {}
    for name in names:
        columns[name], errors[name] = numeric_column(features, name)
    return columns, errors


def categorical_column(features: Sequence[dict], name: str) -> list[object]:
    return [f.get(name) for f in features]


def latency_column(events: Sequence) -> np.ndarray:
    return np.array([e.latency_ms for e in events], dtype=np.float64)


def prediction_score(prediction: object) -> float:
    """A number for a prediction: itself, or a class-probability map's top probability; NaN for
    class labels (strings)."""
    if prediction.__class__ in (float, int, bool):
        return float(prediction)
    if prediction.__class__ is dict and prediction:
        return float(max(prediction.values()))
    return float("nan")


def prediction_column(events: Sequence, kind: str | None) -> np.ndarray | list | None:
    """Predictions as the window's prediction profile takes them (scores or labels)."""
    if kind == "numeric":
        return np.array([prediction_score(e.prediction) for e in events], dtype=np.float64)
    if kind == "categorical":
        return [p if p.__class__ is str else None if p is None else str(p) for p in (e.prediction for e in events)]
    return None
