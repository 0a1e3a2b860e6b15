"""Turn a group of decoded events into the columns a window state takes, and apply them.

Batches come column-wise from the native decoder (schemas/columnar.py): `apply_columns` does no
per-event work at all. Events decoded one by one (one-event messages, or the Python path) go
through `apply_events`: one C-level key lookup per event for all numeric features at once
(operator.itemgetter), one numpy conversion, and a type check over the block; the per-column
path is the fallback for absent keys and wrongly typed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from operator import itemgetter

import numpy as np

from detectors.binning import CodedLabels
from detectors.window import ModelWindow
from schemas.columnar import EventColumns, RawEvent, decode_columns, join_events
from schemas.fast_path import WireEvent

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


def apply_events(state: ModelWindow, events: Sequence[WireEvent | RawEvent]) -> None:
    """Events decoded one by one; one-event messages kept as bytes (RawEvent) are decoded here,
    all at once, as one batch."""
    raws = [e.raw for e in events if e.__class__ is RawEvent]
    if raws:
        batch = decode_columns(join_events(raws))
        if batch is not None:
            apply_columns(state, batch)
        else:  # an event msgspec took but the stricter native decoder does not (rare corners)
            from streams.core.decoding import decode_rows

            _apply_rows(state, [e for raw in raws for e in decode_rows(raw)])
        if len(raws) == len(events):
            return
        events = [e for e in events if e.__class__ is not RawEvent]
    _apply_rows(state, events)


def _apply_rows(state: ModelWindow, events: Sequence[WireEvent]) -> None:
    features = [e.features for e in events]
    columns, type_errors = numeric_block(features, state.numeric_features)
    for name in state.categorical_features:
        columns[name] = categorical_column(features, name)
    state.update(columns, latencies_ms=latency_column(events), events=len(events), type_errors=type_errors,
                 predictions=prediction_column(events, state.prediction_kind),
                 scores=prediction_column(events, "numeric") if state.estimates else None)


def apply_columns(state: ModelWindow, batch: EventColumns) -> None:
    """The same as apply_events for a column-wise batch (NaN / None where a feature is absent)."""
    rows = len(batch)
    columns: dict[str, np.ndarray | CodedLabels] = {}
    type_errors: dict[str, int] = {}
    for name in state.numeric_features:
        f = batch.features.get(name)
        if f is None:
            columns[name] = np.full(rows, np.nan)
            continue
        columns[name] = f.values
        if f.strings:  # a string where a number is expected
            type_errors[name] = f.strings
    for name in state.categorical_features:
        f = batch.features.get(name)
        if f is None:
            columns[name] = CodedLabels(None, [], missing=rows)
        else:  # a number (or boolean) where a label is expected is a type error
            columns[name] = CodedLabels(f.labels.codes, f.labels.uniques, missing=rows - f.numbers - f.strings,
                                        type_errors=f.numbers)
    state.update(columns, latencies_ms=batch.latency_ms, events=rows, type_errors=type_errors,
                 predictions=_column_predictions(batch, state.prediction_kind),
                 scores=batch.scores if state.estimates else None)


def _column_predictions(batch: EventColumns, kind: str | None) -> np.ndarray | CodedLabels | list | None:
    if kind == "numeric":
        return batch.scores
    if kind != "categorical":
        return None
    if batch.all_labels:
        return CodedLabels(batch.labels.codes, batch.labels.uniques)
    # Labels of numbers (str(1) is "1", str(1.0) is "1.0") need the values as decoded: rare, so
    # the message is decoded again row-wise for them.
    from streams.core.decoding import decode_rows

    events = decode_rows(batch.raw)
    rows = range(len(events)) if batch.rows is None else batch.rows
    return prediction_column([events[i] for i in rows], "categorical")
