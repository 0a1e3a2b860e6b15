"""Logged events turned into columnar envelopes (schemas/envelope.py), off the inference path.

`log()` only stores what it was given (JSON-encoded); the checks happen here, in the background
thread, so that a bad event costs the service nothing: it is left out and counted by kind. What
is sent is what the worker accepts (tests/driftline compare with `PredictionEvent`), so no
event the SDK counts as sent ends in the dead-letter topic.

Values the worker would read differently are normalised: numpy scalars become Python numbers,
NaN and infinite feature values and latencies are sent as null (missing), datetimes as epoch ms.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from operator import itemgetter
from typing import Any, Callable

import msgspec
import orjson

from schemas.envelope import envelope_parts
from schemas.prediction import event_time_ms

# Below librdkafka's default message.max.bytes (1,000,000) and the worker's limit (1 MiB): a
# larger envelope is split, so no message is refused for its size.
ENVELOPE_BYTES = 512 * 1024

_FEATURE_TYPES = frozenset({float, int, str, bool, type(None)})
_PREDICTION_TYPES = frozenset({float, int, str, bool})
_NUMBERS = frozenset({float, int})

# What each kind of invalid event counted here means (for the one log line per kind).
WHY = {
    "features": "a feature name is not a string, or a value is not a number, string, boolean or null",
    "prediction": "the prediction is not a finite number, a string, a boolean or a map of class to probability",
    "latency_ms": "latency_ms is not a finite number >= 0",
    "timestamp": "timestamp is neither epoch milliseconds (int) nor a datetime",
    "unencodable": "a string cannot be written as UTF-8 (a lone surrogate)",
    "too_large": f"the event alone is larger than an envelope may be ({ENVELOPE_BYTES} bytes)",
}

# An entry of the buffer: `[event_id, timestamp, features, prediction, latency_ms]` as log() got
# them, JSON-encoded (bytes) or, where JSON could not hold them as they are, the list itself.
Entry = bytes | list
_DECODE_STEP = 100  # entries decoded between two pauses (~0.15 ms at 30 features)
_TRANSPOSE_STEP = 10  # features put in columns between two pauses (~0.15 ms for 500 events)


def build(model_id: str, model_version: str, entries: list[Entry], invalid: Counter,
          pause: Callable[[], None] = lambda: None) -> list[tuple[bytes, int]]:
    """Envelopes of the valid entries, each with its number of events; the others counted in
    `invalid` by kind (see WHY). `pause` is called between the steps (each at most a few hundred
    µs for 500 events of 30 features)."""
    rows = _decode(entries, invalid, pause)
    if not rows:
        return []
    ids, times = [r.event_id for r in rows], [r.timestamp for r in rows]
    features, predictions, latencies = [r.features for r in rows], [r.prediction for r in rows], \
        [r.latency_ms for r in rows]
    bad: dict[int, str] = {}  # row -> the first thing wrong with it
    times = _timestamps(times, bad)
    predictions = _predictions(predictions, bad)
    latencies = _latencies(latencies, bad)
    pause()
    names, columns = _transpose(features, bad, pause)
    pause()
    columns = [c if _FEATURE_TYPES.issuperset(map(type, c)) else _clean(c, bad) for c in columns]
    pause()
    invalid.update(bad.values())
    if bad:
        keep = [i for i in range(len(rows)) if i not in bad]
        ids, times, predictions, latencies = ([c[i] for i in keep] for c in (ids, times, predictions, latencies))
        columns = [[c[i] for i in keep] for c in columns]
        if not ids:
            return []
    return _encode(model_id, model_version, ids, times, predictions, latencies, names, columns, invalid, pause)


class _Row(msgspec.Struct, array_like=True, gc=False):
    """A decoded entry. Not tracked by the garbage collector (nor is a dict of plain values):
    rows that survive a young collection would otherwise pile up towards a full one, which
    holds the GIL for ~15 ms in a large process, and so stalls the service's log() calls."""

    event_id: Any
    timestamp: Any
    features: Any
    prediction: Any
    latency_ms: Any


_rows = msgspec.json.Decoder(list[_Row])


def _decode(entries: list[Entry], invalid: Counter, pause: Callable[[], None]) -> list[_Row]:
    rows: list[_Row] = []
    for start in range(0, len(entries), _DECODE_STEP):
        chunk = entries[start:start + _DECODE_STEP]
        try:
            if all(e.__class__ is bytes for e in chunk):  # one call for the lot
                rows += _rows.decode(b"[" + b",".join(chunk) + b"]")
                continue
        except msgspec.DecodeError:  # orjson wrote something msgspec refuses: find which, lose only it
            pass
        finally:
            pause()
        for e in chunk:
            try:
                rows.append(_rows.decode(b"[" + e + b"]")[0] if e.__class__ is bytes else _Row(*e))
            except (msgspec.DecodeError, TypeError):
                invalid["unencodable"] += 1
    return rows


def _encode(model_id, model_version, ids, times, predictions, latencies, names, columns, invalid, pause) -> list:
    message = envelope_parts(model_id, model_version, ids, times, predictions, dict(zip(names, columns)),
                             latency_ms=None if all(x is None for x in latencies) else latencies)
    try:
        pieces = []
        for i, piece in enumerate(message):
            pieces.append(piece)
            if i % _TRANSPOSE_STEP == _TRANSPOSE_STEP - 1:
                pause()
        raw = b"".join(pieces)
    except (TypeError, orjson.JSONEncodeError):  # a string orjson refuses (a lone surrogate): find its rows
        if len(ids) == 1:
            invalid["unencodable"] += 1
            return []
        raw = None
    if raw is not None and len(raw) <= ENVELOPE_BYTES:
        return [(raw, len(ids))]
    if len(ids) == 1:
        invalid["too_large"] += 1
        return []
    half = len(ids) // 2
    parts = []
    for part in (slice(0, half), slice(half, None)):
        parts += _encode(model_id, model_version, ids[part], times[part], predictions[part], latencies[part],
                         names, [c[part] for c in columns], invalid, pause)
    return parts


def _timestamps(times: list, bad: dict[int, str]) -> list:
    if set(map(type, times)) <= {int}:  # log() filled them in: the common case
        return times
    out = []
    for i, t in enumerate(times):
        if t.__class__ is int:
            out.append(t)
        elif isinstance(t, dt.datetime):
            out.append(event_time_ms(t))
        else:
            bad.setdefault(i, "timestamp")
            out.append(0)
    return out


def _number(value: object) -> object:
    """numpy scalars as Python numbers (orjson refuses them); other values as they are."""
    return value.item() if type(value).__module__ == "numpy" and hasattr(value, "item") else value


def _finite(values: list) -> bool:
    """Whether a list of plain numbers holds no NaN or infinity (their sum does not either; an
    overflowing sum only sends the caller to the value-by-value check)."""
    return math.isfinite(sum(values))


def _predictions(predictions: list, bad: dict[int, str]) -> list:
    kinds = set(map(type, predictions))
    if kinds <= _PREDICTION_TYPES and (float not in kinds or _finite([p for p in predictions if p.__class__ is float])):
        return predictions
    return [_prediction(p, i, bad) for i, p in enumerate(predictions)]


def _prediction(p: object, i: int, bad: dict[int, str]) -> object:
    p = _number(p)
    kind = p.__class__
    if kind in (int, str, bool) or (kind is float and math.isfinite(p)):
        return p
    if kind is dict and all(k.__class__ is str and _finite_number(v) for k, v in p.items()):
        return {k: _number(v) for k, v in p.items()}
    bad.setdefault(i, "prediction")
    return None


def _finite_number(v: object) -> bool:
    v = _number(v)
    return v.__class__ is int or (v.__class__ is float and math.isfinite(v))


def _latencies(latencies: list, bad: dict[int, str]) -> list:
    kinds = set(map(type, latencies))
    if kinds <= {type(None)}:
        return latencies
    if kinds <= _NUMBERS | {type(None)}:
        present = [x for x in latencies if x is not None] if type(None) in kinds else latencies
        if _finite(present) and min(present) >= 0:
            return latencies
    out = []
    for i, x in enumerate(latencies):
        x = _number(x)
        if x is not None and not (x.__class__ in _NUMBERS and math.isfinite(x) and x >= 0):
            bad.setdefault(i, "latency_ms")
        out.append(x)
    return out


def _transpose(features: list[dict], bad: dict[int, str], pause: Callable[[], None]) -> tuple[list, list]:
    """Feature names (in order of first appearance) and one column of values per name."""
    names = list(features[0])
    columns: list | None = None
    if all(len(f) == len(names) for f in features):
        columns = []
        try:  # every event with the same features: a C-level pass per feature, no object per row
            for start in range(0, len(names), _TRANSPOSE_STEP):
                columns += [list(map(itemgetter(n), features)) for n in names[start:start + _TRANSPOSE_STEP]]
                pause()
        except KeyError:
            columns = None
    if columns is None:
        names = list(dict.fromkeys(n for f in features for n in f))
        columns = [[f.get(n) for f in features] for n in names]
    if not all(n.__class__ is str for n in names):  # a name must be a JSON string
        wrong = {n for n in names if n.__class__ is not str}
        for i, f in enumerate(features):
            if not wrong.isdisjoint(f):
                bad.setdefault(i, "features")
        kept = [(n, c) for n, c in zip(names, columns) if n not in wrong]
        names, columns = [n for n, _ in kept], [c for _, c in kept]
    return names, columns


def _clean(column, bad: dict[int, str]) -> list:
    out = []
    for i, v in enumerate(column):
        v = _number(v)
        if v.__class__ is float and not math.isfinite(v):
            v = None  # what orjson writes for NaN anyway: a missing value
        elif v.__class__ not in _FEATURE_TYPES:
            base = next((t for t in (str, int, float) if isinstance(v, t)), None)
            if base is None:
                bad.setdefault(i, "features")
            v = None if base is None else base(v)  # an enum member as its value
        out.append(v)
    return out
