"""The fast pre-check accepts only what the pydantic model accepts; decoding routes the rest."""

import numpy as np
import orjson
import pytest
from pydantic import ValidationError

from schemas import DriftAlert, PredictionEvent, event_time_ms
from schemas.fast_path import fast_decode
from streams.core.decoding import decode_message

from tests.schemas.mutations import GOOD, mutations


def test_fast_path_never_accepts_what_pydantic_rejects():
    accepted_fast = 0
    for event in mutations(np.random.default_rng(0), 5_000):
        for raw in (orjson.dumps(event), orjson.dumps({"events": [event]})):
            fast = fast_decode(raw)
            try:
                model = PredictionEvent.model_validate(event)
            except ValidationError:
                assert fast is None, event
                continue
            if fast is not None:
                accepted_fast += 1
                (decoded,) = fast
                assert decoded.timestamp == event_time_ms(model.timestamp)
                assert decoded.features == model.features and decoded.model_version == model.model_version
    assert accepted_fast > 1000  # the fast path does carry the common case


def test_rfc3339_and_epoch_ms_timestamps_agree():
    a = decode_message(orjson.dumps({**GOOD, "timestamp": "2023-11-14T22:13:20Z"}))
    b = decode_message(orjson.dumps({**GOOD, "timestamp": 1_700_000_000_000}))
    assert [e.timestamp for e in a.events] == [e.timestamp for e in b.events] == [1_700_000_000_000]


@pytest.mark.parametrize("raw, code", [
    (b"\xff\xfe", "not_json"), (b"[1, 2]", "invalid_event"), (b'{"events": {}}', "invalid_batch"),
    (orjson.dumps({**GOOD, "latency_ms": -1}), "invalid_event"), (b" " * (1024 * 1024 + 1), "too_large"),
])
def test_bad_messages_are_rejected_with_a_reason(raw, code):
    decoded = decode_message(raw)
    assert not decoded.events and len(decoded.rejects) == 1
    assert decoded.rejects[0].reason.startswith(code + ":") and decoded.rejects[0].value == raw


def test_only_bad_events_of_a_batch_are_rejected():
    batch = {"events": [GOOD, {**GOOD, "features": {"f": [1]}}, {**GOOD, "event_id": "e2"}, "nope"]}
    decoded = decode_message(orjson.dumps(batch))
    assert [e.event_id for e in decoded.events] == ["e1", "e2"]
    assert [r.reason.split(":")[0] for r in decoded.rejects] == ["invalid_event", "invalid_event"]
    assert orjson.loads(decoded.rejects[0].value)["features"] == {"f": [1]}


def test_alert_ids_are_deterministic_and_severity_follows_value():
    kw = dict(model_id="m", model_version="1", window_start=0, window_end=60_000, feature="f", statistic="psi",
              threshold=0.2)
    a, b = DriftAlert.for_window(value=0.21, **kw), DriftAlert.for_window(value=0.9, **kw)
    assert a.alert_id == b.alert_id and (a.severity, b.severity) == ("minor", "major")
    assert a.window_start == "1970-01-01T00:00:00.000Z"


def _nested(depth: int) -> bytes:
    return orjson.dumps(GOOD)[:-1] + b',"extra":' + b'[{"a":' * (depth // 2) + b"1" + b"}]" * (depth // 2) + b"}"


@pytest.mark.parametrize("depth", [80, 10_000])
def test_deep_nesting_is_rejected_whole_in_a_single_event_and_in_a_batch(depth):
    """The poison message of the field: 10,000 levels drove a decoder into a RecursionError."""
    for raw in (_nested(depth), b'{"events": [' + _nested(depth) + b"]}"):
        decoded = decode_message(raw)
        assert not decoded.events and decoded.columns is None
        assert [r.reason for r in decoded.rejects] == ["not_json: nested deeper than 64 levels"]


def test_nesting_within_the_limit_is_accepted_by_every_path():
    for raw in (_nested(40), b'{"events": [' + _nested(40) + b"]}"):
        decoded = decode_message(raw)
        assert not decoded.rejects and len(decoded.valid) == 1


def test_a_decoder_failure_rejects_that_message_only(monkeypatch):
    import streams.core.decoding as decoding

    def broken(raw):
        raise KeyError("a bug")

    monkeypatch.setattr(decoding, "fast_decode", broken)
    decoded = decode_message(orjson.dumps(GOOD))
    assert [r.reason for r in decoded.rejects] == ["undecodable: KeyError: 'a bug'"]
