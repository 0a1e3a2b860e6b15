"""What the SDK's background thread sends: only events the worker accepts, and every event that
pydantic accepts as it was logged."""

import datetime as dt
import math
from collections import Counter

import numpy as np
import orjson
from pydantic import ValidationError

from driftline.envelopes import ENVELOPE_BYTES, build
from schemas import PredictionEvent
from streams.core.decoding import decode_message

VALUES = [None, True, 0, -3, 2.5, float("nan"), float("inf"), "x", "", [1], {"k": 1}, np.float32(1.5),
          np.int64(4), np.bool_(False), np.str_("s"), object(), 2**70]
PREDICTIONS = [0.5, 1, True, "cat", {"a": 0.2, "b": 0.8}, {}, {"a": True}, {"a": float("nan")}, float("nan"),
               None, np.float64(0.3), [1], {1: 0.5}]
LATENCIES = [None, 0, 3.5, -1, float("inf"), "3", np.float32(2.0), True]
TIMES = [1_700_000_000_000, dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2024, 1, 1), 1.5, "now",
         True]


def _pick(rng, values):
    return values[int(rng.integers(len(values)))]


def _plainly_valid(entry) -> bool:
    """Valid for pydantic as logged, with nothing the JSON on the wire would change."""
    event_id, timestamp, features, prediction, latency = entry
    try:
        orjson.dumps([features, prediction, latency])
        PredictionEvent.model_validate({"event_id": event_id, "model_id": "m", "timestamp": timestamp,
                                        "features": features, "prediction": prediction, "latency_ms": latency})
    except (TypeError, ValidationError):
        return False
    plain = (int, float, str, bool, type(None), dict, dt.datetime)
    values = [*features.values(), prediction, latency, *(prediction.values() if isinstance(prediction, dict) else ())]
    return all(isinstance(v, plain) and not (isinstance(v, float) and not math.isfinite(v)) for v in values) \
        and (timestamp.__class__ is int or isinstance(timestamp, dt.datetime))  # a float: seconds or ms? refused


def test_only_what_the_worker_accepts_is_sent_and_nothing_pydantic_accepts_is_left_out():
    rng = np.random.default_rng(8)
    for _ in range(200):
        entries = []
        for i in range(int(rng.integers(1, 60))):
            features = {"a": 1.0, "b": "x"} if rng.random() < 0.5 else {
                "a": _pick(rng, VALUES), "b": _pick(rng, VALUES), **({"c": _pick(rng, VALUES)} if rng.random() < 0.5 else {})}
            entries.append([f"e{i}", _pick(rng, TIMES) if rng.random() < 0.3 else 1_700_000_000_000 + i,
                            features, _pick(rng, PREDICTIONS) if rng.random() < 0.5 else 0.5,
                            _pick(rng, LATENCIES) if rng.random() < 0.5 else 1.0])
        invalid = Counter()
        sent = []
        for raw, n in build("m", "1", entries, invalid):
            decoded = decode_message(raw)
            assert not decoded.rejects, (decoded.rejects, entries)
            ids = decoded.columns.event_ids if decoded.columns is not None else [e.event_id for e in decoded.events]
            assert len(ids) == n
            sent += ids
        assert len(sent) + sum(invalid.values()) == len(entries)
        kept = set(sent)
        for entry in entries:
            if _plainly_valid(entry):
                assert entry[0] in kept, entry


def test_large_batches_are_split_below_the_envelope_limit():
    entries = [[f"e{i}", 1_700_000_000_000, {"text": "y" * 3_000, "n": i}, 0.5, None] for i in range(500)]
    invalid = Counter()
    parts = build("m", "", entries, invalid)
    assert len(parts) > 1 and not invalid
    assert all(len(raw) <= ENVELOPE_BYTES for raw, _ in parts) and sum(n for _, n in parts) == 500
    ids = [i for raw, _ in parts for i in orjson.loads(raw)["columns"]["event_id"]]
    assert ids == [e[0] for e in entries]


def test_events_with_other_features_share_an_envelope_with_nulls_for_the_missing():
    entries = [orjson.dumps(["a", 1, {"x": 1.0}, 1, None]), ["b", 2, {"y": "u", "x": 2.0}, 1, 4.0]]
    ((raw, n),) = build("m", "", entries, Counter())
    columns = orjson.loads(raw)["columns"]
    assert n == 2 and columns["features"] == {"x": [1.0, 2.0], "y": [None, "u"]}
    assert columns["latency_ms"] == [None, 4.0]
