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
