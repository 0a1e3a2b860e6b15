"""Valid and almost-valid prediction events, shared by the decoder equivalence tests."""

import numpy as np

GOOD = {"event_id": "e1", "model_id": "m", "model_version": "2", "timestamp": 1_700_000_000_000,
        "features": {"a": 1.5, "b": "x", "c": None, "d": True, "e": 3}, "prediction": 0.7, "latency_ms": 4}
ODD_VALUES = [None, True, False, 0, -1, 1.5, -0.5, "", "x", "2024-01-01T00:00:00Z", [], [1], {}, {"k": 1},
              {"k": "v"}, 2**62, -(2**63), 2, 1e300]


def mutations(rng: np.random.Generator, n: int):
    keys = list(GOOD) + ["schema_version", "extra"]
    for _ in range(n):
        event = dict(GOOD)
        for _ in range(int(rng.integers(1, 3))):
            key = keys[int(rng.integers(len(keys)))]
            roll = rng.random()
            if roll < 0.15:
                event.pop(key, None)
            elif key == "features" and roll < 0.6:
                event["features"] = {**GOOD["features"], "z": ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]}
            elif key == "prediction" and roll < 0.6:
                event["prediction"] = {"yes": ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]}
            else:
                event[key] = ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]
        yield event


def good_envelope(rng: np.random.Generator, rows: int) -> dict:
    """A valid columnar envelope (schemas/envelope.py) of `rows` rows with GOOD's kinds of values."""
    predictions = [0.7, "cat", True, {"a": 0.25, "b": 0.75}, 3, {}]
    latencies = [4, 1.5, None, 0]
    pick = lambda values: [values[int(rng.integers(len(values)))] for _ in range(rows)]  # noqa: E731
    return {"schema_version": 1, "model_id": "m", "model_version": str(int(rng.integers(3))),
            "columns": {"event_id": [f"e{int(rng.integers(10**6))}" for _ in range(rows)],
                        "timestamp": [1_700_000_000_000 + int(rng.integers(10**6)) for _ in range(rows)],
                        "prediction": pick(predictions), "latency_ms": pick(latencies),
                        "features": {"a": pick([1.5, -2.0, None, 7]), "b": pick(["x", "y", None]),
                                     "c": pick([None]), "d": pick([True, False, 0.5]), "e": pick([3, "z", None])}}}


def envelope_mutations(rng: np.random.Generator, n: int):
    """Envelopes with one or two things wrong (or merely unusual): a bad value in one row, a
    column too short or missing or not a list, odd top-level fields, keys of other wire forms."""
    odd = lambda: ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]  # noqa: E731
    for _ in range(n):
        envelope = good_envelope(rng, int(rng.integers(1, 5)))
        columns = envelope["columns"]
        for _ in range(int(rng.integers(1, 3))):
            roll = rng.random()
            features = columns.get("features")
            names = [n for n in ("event_id", "timestamp", "prediction", "latency_ms") if isinstance(columns.get(n), list)]
            names += [f"f:{k}" for k in (features if isinstance(features, dict) else ())]
            if not names:
                continue
            name = names[int(rng.integers(len(names)))]
            holder, key = (features, name[2:]) if name.startswith("f:") else (columns, name)
            if not isinstance(holder[key], list) or not holder[key]:
                continue
            if roll < 0.45:  # one row's value
                column = list(holder[key])
                column[int(rng.integers(len(column)))] = odd()
                holder[key] = column
            elif roll < 0.55:  # a column one value short
                holder[key] = holder[key][:-1]
            elif roll < 0.62:
                holder.pop(key)
            elif roll < 0.68:  # a whole column that is not a list
                holder[key] = odd()
            elif roll < 0.85:
                top = ["schema_version", "model_id", "model_version", "columns", "extra", "events", "event_id"]
                field = top[int(rng.integers(len(top)))]
                if rng.random() < 0.3:
                    envelope.pop(field, None)
                else:
                    envelope[field] = odd()
            else:
                columns[["extra", "features", "latency_ms"][int(rng.integers(3))]] = odd() if rng.random() < 0.5 else None
        yield envelope
