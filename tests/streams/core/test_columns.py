import numpy as np
import orjson
import pytest

from detectors import build_profile
from detectors.window import ModelWindow
from schemas.columnar import NATIVE, RawEvent, decode_columns
from streams.core.columns import apply_columns, apply_events, numeric_block
from streams.core.decoding import decode_message, decode_rows


def test_numeric_block_fast_path_equals_per_column_values():
    features = [{"a": 1.5, "b": 2, "c": True}, {"a": None, "b": -1, "c": False}]
    columns, errors = numeric_block(features, ("a", "b", "c"))
    assert errors == {}
    np.testing.assert_array_equal(columns["a"], [1.5, np.nan])
    assert columns["b"].tolist() == [2.0, -1.0] and columns["c"].tolist() == [1.0, 0.0]


def test_absent_keys_are_missing_and_strings_are_type_errors_not_parsed():
    features = [{"a": "1.5", "b": 1.0}, {"b": 2.0}, {"a": 3.0}]
    columns, errors = numeric_block(features, ("a", "b"))
    np.testing.assert_array_equal(columns["a"], [np.nan, np.nan, 3.0])
    np.testing.assert_array_equal(columns["b"], [1.0, 2.0, np.nan])
    assert errors == {"a": 1, "b": 0}


def test_single_numeric_feature():
    columns, _ = numeric_block([{"a": 1.0}, {"a": 2.0}], ("a",))
    assert columns["a"].tolist() == [1.0, 2.0]


def _messy_batch(rng: np.random.Generator, n: int, prediction_labels: bool) -> list[dict]:
    """Events with absent, null, wrongly typed and unseen values, two models, labels or scores."""
    events = []
    for i in range(n):
        features = {"x": float(rng.normal()), "k": str(rng.choice(["a", "b", "c", "zz"]))}
        roll = rng.random()
        if roll < 0.05:
            del features["x"]
        elif roll < 0.1:
            features["x"] = None
        elif roll < 0.13:
            features["x"] = "1.5"  # a type error, never parsed
        elif roll < 0.16:
            features["k"] = 3  # a number where a label is expected
        elif roll < 0.2:
            features["k"] = None
        elif roll < 0.22:
            features["x"] = True
        prediction = str(rng.choice(["yes", "no"])) if prediction_labels else float(rng.uniform())
        if prediction_labels and rng.random() < 0.1:
            prediction = int(rng.integers(2))  # a number under a label profile: str() of it
        events.append({"event_id": f"e{i}", "model_id": "m", "timestamp": 1_000 + i, "features": features,
                       "prediction": prediction, "latency_ms": None if i % 7 == 0 else float(rng.gamma(2.0))})
    return events


@pytest.mark.skipif(not NATIVE, reason="the native batch decoder was not built")
@pytest.mark.parametrize("prediction_labels", [False, True])
def test_a_window_fed_columns_equals_a_window_fed_events(prediction_labels):
    rng = np.random.default_rng(3)
    reference = _messy_batch(rng, 2_000, prediction_labels)
    kept = [e for e in reference if isinstance(e["features"].get("x"), float) and isinstance(e["prediction"], (str, float))]
    profile = build_profile({"x": [e["features"]["x"] for e in kept], "k": [("a", "b", "c")[i % 3] for i in range(len(kept))]},
                            prediction=[e["prediction"] for e in kept])
    by_events, by_columns, by_messages = ModelWindow(profile), ModelWindow(profile), ModelWindow(profile)
    for _ in range(4):
        events = _messy_batch(rng, 300, prediction_labels)
        raw = orjson.dumps({"events": events})
        batch = decode_columns(raw)
        assert batch is not None
        apply_columns(by_columns, batch)
        apply_events(by_events, decode_rows(raw))
        # One-event messages as the worker keeps them (RawEvent), with a few decoded row-wise.
        singles = [decode_message(orjson.dumps(e)).events[0] for e in events]
        assert sum(isinstance(e, RawEvent) for e in singles) == len(events)
        mixed = [decode_rows(e.raw)[0] if i % 10 == 0 else e for i, e in enumerate(singles)]
        apply_events(by_messages, mixed)
    assert by_columns.snapshot() == by_events.snapshot() == by_messages.snapshot()
    assert by_columns.snapshot()["features"]["x"]["type_errors"] > 0
    assert by_columns.snapshot()["features"]["k"]["type_errors"] > 0
