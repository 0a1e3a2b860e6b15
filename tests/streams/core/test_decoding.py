"""The message-shape hint of decoding.py: it only picks the first decoder to try, never the outcome."""

import orjson
import pytest

from schemas.envelope import encode_envelope
from streams.core.decoding import HEAD_BYTES, decode_message
from tests.schemas.mutations import GOOD


def _ids(decoded) -> list[str]:
    valid = decoded.valid
    return list(valid.event_ids) if hasattr(valid, "event_ids") else [e.event_id for e in valid]


@pytest.mark.parametrize("key", ["events", "columns"])
def test_a_single_event_holding_either_key_is_one_event(key):
    for where in ("feature", "late feature"):
        features = {key: "x"} if where == "feature" else {"pad": "p" * HEAD_BYTES, key: 1.0}
        decoded = decode_message(orjson.dumps({**GOOD, "features": features}))
        assert not decoded.rejects and _ids(decoded) == ["e1"]


def test_a_batch_whose_events_key_comes_late_is_still_a_batch():
    raw = orjson.dumps({"note": "n" * (2 * HEAD_BYTES), "events": [GOOD, {**GOOD, "event_id": "e2"}]})
    decoded = decode_message(raw)
    assert not decoded.rejects and _ids(decoded) == ["e1", "e2"]


def test_an_envelope_with_a_feature_named_events_is_decoded_column_wise():
    raw = encode_envelope("m", "1", ["a", "b"], [1_700_000_000_000] * 2, [0.1, 0.2],
                          {"events": [1.0, 2.0], "x": ["u", "v"]}, [3.0, 4.0])
    decoded = decode_message(raw)
    assert not decoded.rejects and decoded.columns is not None and _ids(decoded) == ["a", "b"]


def test_an_envelope_whose_columns_key_comes_late_is_still_read():
    head = {"schema_version": 1, "model_id": "m" * (2 * HEAD_BYTES), "model_version": "1"}
    envelope = {**head, "columns": {"event_id": ["a"], "timestamp": [1_700_000_000_000], "prediction": [0.5],
                                    "features": {"x": [1.0]}}}
    decoded = decode_message(orjson.dumps(envelope))
    assert not decoded.rejects and decoded.columns is not None and _ids(decoded) == ["a"]
