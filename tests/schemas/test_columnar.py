"""The native batch decoder accepts only what pydantic accepts, and its columns are the events'."""

import json

import numpy as np
import orjson
import pytest

from schemas.columnar import NATIVE, concat_columns, decode_columns, join_events, refusal
from streams.core.decoding import _decode_slowly

from tests.schemas.columns import actual_columns as _actual_columns
from tests.schemas.columns import expected_columns as _expected_columns
from tests.schemas.columns import same as _same
from tests.schemas.mutations import GOOD, mutations

pytestmark = pytest.mark.skipif(not NATIVE, reason="the native batch decoder was not built (no Rust toolchain)")


def test_native_columns_never_accept_what_pydantic_rejects_and_equal_the_events():
    rng = np.random.default_rng(11)
    pool = list(mutations(rng, 3_000))
    accepted = refused_valid = 0
    for _ in range(3_000):
        size = int(rng.integers(1, 6))
        events = [pool[int(rng.integers(len(pool)))] if rng.random() < 0.3 else
                  {**GOOD, "event_id": f"e{int(rng.integers(1000))}", "model_version": str(int(rng.integers(2)))}
                  for _ in range(size)]
        raw = orjson.dumps({"events": events})
        python = _decode_slowly(raw)
        columns = decode_columns(raw)
        if columns is None:
            refused_valid += not python.rejects
            continue
        accepted += 1
        assert not python.rejects, (raw, python.rejects)
        assert _same(_actual_columns(columns), _expected_columns(python.events)), raw
    assert accepted > 1000  # the native path carries the common case
    assert refused_valid < accepted  # and refuses valid batches only in corner cases


@pytest.mark.parametrize("message, why", [
    ({"events": [GOOD], "event_id": "x"}, "a top-level event_id makes it a single event"),
    ({"events": [{**GOOD, "timestamp": 1.7e12}]}, "a float timestamp is for pydantic to judge"),
    ({"events": [{**GOOD, "timestamp": "2024-01-01T00:00:00Z"}]}, "RFC 3339 times are parsed in Python"),
    ({"events": [{**GOOD, "prediction": {"a": True}}]}, "booleans are not probabilities"),
    ({"events": [{**GOOD, "schema_version": 2}]}, "unknown schema version"),
    ({"events": [{**GOOD, "latency_ms": -1}]}, "negative latency"),
    ({"events": [{**GOOD, "event_id": ""}]}, "empty event id"),
    ({"events": []}, "no events"),
    ({"events": [{**GOOD, "features": {"a": [1]}}]}, "a list is not a feature value"),
])
def test_refused_messages(message, why):
    assert decode_columns(orjson.dumps(message)) is None, why


@pytest.mark.parametrize("raw", [
    b'{"events": [{"event_id": "a", "event_id": "b", "model_id": "m", "timestamp": 1, "features": {}, "prediction": 1}]}',
    b'{"events": [{"event_id": "a", "model_id": "m", "timestamp": 1, "features": {"x": 1, "x": 2}, "prediction": 1}]}',
    b'{"events": [{"event_id": "a", "model_id": "m", "timestamp": 1, "features": {}, "prediction": {"c": 1, "c": 0}}]}',
    b'{"events": [{"event_id": "a", "model_id": "m", "timestamp": 1, "features": {}, "prediction": 1}]} x',
    b'{"events": [{"event_id": "a", "model_id": "m", "timestamp": 1e400, "features": {}, "prediction": 1}]}',
])
def test_repeated_keys_and_bad_json_are_left_to_the_python_path(raw):
    assert decode_columns(raw) is None and refusal(raw)


def test_escapes_unicode_and_extra_fields_decode_like_python():
    events = [{**GOOD, "event_id": "é\"\\n\u2603", "features": {"naïve ☃": "Zürich\n", "n": -0.0, "big": 2**70},
               "extra": {"nested": [1, 2, {"x": None}]}, "prediction": {"a": 0.25, "b": 0.5}},
              {**GOOD, "model_id": "other", "features": {}, "prediction": "cat", "latency_ms": None}]
    raw = json.dumps({"events": events, "schema_version": 1, "producer": "x"}).encode()
    columns = decode_columns(raw)
    assert columns is not None
    assert _same(_actual_columns(columns), _expected_columns(_decode_slowly(raw).events))
    assert columns.groups == [("m", "2"), ("other", "2")]


def test_raw_utf8_decodes_like_python():
    events = [{**GOOD, "event_id": "é☃", "features": {"naïve ☃": "Zürich", "n": -0.0}, "prediction": "ü"}]
    raw = orjson.dumps({"events": events})
    columns = decode_columns(raw)
    assert columns is not None
    assert _same(_actual_columns(columns), _expected_columns(_decode_slowly(raw).events))


def test_joined_one_event_messages_decode_as_a_batch():
    raws = [orjson.dumps({**GOOD, "event_id": f"e{i}", "features": {"a": float(i)}}) for i in range(5)]
    batch = decode_columns(join_events(raws))
    assert batch is not None and batch.event_ids == [f"e{i}" for i in range(5)]
    assert batch.features["a"].values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_concatenated_batches_equal_one_batch_of_all_their_events():
    rng = np.random.default_rng(4)
    pool = [e for e in mutations(rng, 2_000)]
    events = []
    for e in pool:
        raw = orjson.dumps({"events": [e]})
        if decode_columns(raw) is not None:
            events.append(e)
    events += [{**GOOD, "model_id": "other", "features": {"only_here": "x"}, "prediction": "label"}]
    whole = decode_columns(orjson.dumps({"events": events}))
    cuts = [0, 3, 10, 11, 50, len(events)]
    parts = [decode_columns(orjson.dumps({"events": events[a:b]})) for a, b in zip(cuts, cuts[1:])]
    assert whole is not None and all(p is not None for p in parts)
    joined = concat_columns(parts)
    assert _same(_actual_columns(joined), _actual_columns(whole))
