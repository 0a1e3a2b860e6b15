"""EventColumns as plain lists, and what they must hold for given events: the decoder tests
compare the native columns with the Python path's events through these."""

import math

from schemas.columnar import EventColumns
from streams.core.columns import prediction_score


def expected_columns(events) -> dict:
    """What the columns must hold, computed from the Python path's events."""
    names = []
    for e in events:
        names += [n for n in e.features if n not in names]
    features = {}
    for name in names:
        raw = [e.features.get(name) for e in events]
        features[name] = {
            "values": [float(v) if v.__class__ in (int, float, bool) else math.nan for v in raw],
            "numbers": sum(v.__class__ in (int, float, bool) for v in raw),
            "labels": [v if v.__class__ is str else None for v in raw],
        }
    return {
        "timestamps": [e.timestamp for e in events],
        "event_ids": [e.event_id for e in events],
        "models": [(e.model_id, e.model_version) for e in events],
        "latency": [math.nan if e.latency_ms is None else float(e.latency_ms) for e in events],
        "scores": [prediction_score(e.prediction) for e in events],
        "labels": [e.prediction if e.prediction.__class__ is str else None for e in events],
        "features": features,
    }


def _labels(strings, rows: int) -> list:
    if strings.codes is None:
        return [None] * rows
    return [strings.uniques[c] if c >= 0 else None for c in strings.codes.tolist()]


def actual_columns(c: EventColumns) -> dict:
    rows = len(c)
    return {
        "timestamps": c.timestamps.tolist(),
        "event_ids": c.event_ids,
        "models": [c.groups[g] for g in c.group_codes.tolist()],
        "latency": c.latency_ms.tolist(),
        "scores": c.scores.tolist(),
        "labels": _labels(c.labels, rows),
        "features": {name: {"values": f.values.tolist(), "numbers": f.numbers, "labels": _labels(f.labels, rows)}
                     for name, f in c.features.items()},
    }


def same(a, b) -> bool:
    """Equality where NaN equals NaN (floats compared exactly otherwise)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)
