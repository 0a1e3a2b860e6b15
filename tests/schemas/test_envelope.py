"""Columnar envelopes: every decoder accepts only what pydantic accepts, bad rows are rejected
alone, and an envelope decodes to the same columns as the batch of its rows."""

import numpy as np
import orjson
import pytest

from schemas.columnar import NATIVE, decode_columns, decode_envelope_columns, envelope_refusal
from schemas.envelope import PredictionEnvelope, encode_envelope, is_envelope
from schemas.fast_path import fast_decode_envelope
from streams.core.decoding import _decode_slowly, decode_message, decode_rows

from tests.schemas.columns import actual_columns, expected_columns, same
from tests.schemas.mutations import GOOD, envelope_mutations, good_envelope

native = pytest.mark.skipif(not NATIVE, reason="the native decoder was not built (no Rust toolchain)")


def _envelope(rows: list[dict], **top) -> dict:
    """The envelope of events that all have GOOD's fields (one model version)."""
    names = list(dict.fromkeys(n for r in rows for n in r["features"]))
    return {"model_id": rows[0]["model_id"], "model_version": rows[0]["model_version"], **top,
            "columns": {"event_id": [r["event_id"] for r in rows], "timestamp": [r["timestamp"] for r in rows],
                        "prediction": [r["prediction"] for r in rows], "latency_ms": [r["latency_ms"] for r in rows],
                        "features": {n: [r["features"].get(n) for r in rows] for n in names}}}


def test_every_decoder_accepts_only_what_pydantic_accepts_and_agrees_with_it():
    rng = np.random.default_rng(12)
    native_accepted = fast_accepted = partly_bad = 0
    for envelope in envelope_mutations(rng, 4_000):
        raw = orjson.dumps(envelope)
        python = _decode_slowly(raw)  # the reference: pydantic, row by row
        expected = expected_columns(python.events)
        fast = fast_decode_envelope(raw)
        if fast is not None:
            fast_accepted += 1
            assert not python.rejects, (raw, python.rejects)
            assert same(expected_columns(fast), expected), raw
        columns = decode_envelope_columns(raw)
        if columns is not None:
            native_accepted += 1
            assert not python.rejects, (raw, python.rejects)
            assert same(actual_columns(columns), expected), raw
        if python.rejects and python.events:
            partly_bad += 1
        whole = decode_message(raw)
        assert [r.reason for r in whole.rejects] == [r.reason for r in python.rejects]
        assert len(whole.valid) == len(python.events)
    assert fast_accepted > 500 and partly_bad > 500  # the mutations reach both sides
    assert native_accepted > 500 or not NATIVE


def test_valid_envelopes_are_taken_by_the_fast_decoders():
    rng = np.random.default_rng(3)
    for _ in range(300):
        raw = orjson.dumps(good_envelope(rng, int(rng.integers(1, 40))))
        assert fast_decode_envelope(raw) is not None
        assert not NATIVE or decode_envelope_columns(raw) is not None, envelope_refusal(raw)


def test_a_bad_row_is_rejected_alone_exactly_like_a_bad_member_of_a_batch():
    rows = [GOOD, {**GOOD, "event_id": "e2", "features": {**GOOD["features"], "a": [1]}},
            {**GOOD, "event_id": "e3", "latency_ms": -1}, {**GOOD, "event_id": "e4"}]
    raw = orjson.dumps(_envelope(rows))
    decoded = decode_message(raw)
    assert [e.event_id for e in decoded.valid] == ["e1", "e4"] and decoded.columns is None
    expanded = list(PredictionEnvelope.model_validate_json(raw).rows())
    as_batch = decode_message(orjson.dumps({"events": expanded}))
    assert decoded.rejects == as_batch.rejects  # same values (the row as JSON) and reasons
    assert [orjson.loads(r.value)["event_id"] for r in decoded.rejects] == ["e2", "e3"]
    assert [r.reason.split(":")[0] for r in decoded.rejects] == ["invalid_event"] * 2


@pytest.mark.parametrize("change, detail", [
    (lambda e: e["columns"].update(timestamp=e["columns"]["timestamp"][:1]), "'timestamp' has 1 values, event_id 2"),
    (lambda e: e["columns"]["features"].update(a=[1.0]), "'a' has 1 values"),
    (lambda e: e["columns"].pop("event_id"), "columns.event_id: Field required"),
    (lambda e: e["columns"].update(prediction={"x": 1}), "columns.prediction: Input should be a valid list"),
    (lambda e: e.update(model_id=""), "model_id: String should have at least 1 character"),
    (lambda e: e.update(schema_version=2), "schema_version: Input should be 1"),
    (lambda e: e.update(columns=[1, 2]), "columns: Input should be a valid dictionary"),
])
def test_a_bad_envelope_is_rejected_whole_with_its_original_bytes(change, detail):
    envelope = _envelope([GOOD, {**GOOD, "event_id": "e2"}])
    change(envelope)
    raw = orjson.dumps(envelope)
    decoded = decode_message(raw)
    assert not decoded.valid and len(decoded.rejects) == 1
    assert decoded.rejects[0].value == raw and decoded.rejects[0].reason.startswith("invalid_batch: ")
    assert detail in decoded.rejects[0].reason


@native
def test_an_envelope_decodes_to_the_columns_of_the_batch_of_its_rows():
    rng = np.random.default_rng(5)
    for _ in range(200):
        raw = orjson.dumps(good_envelope(rng, int(rng.integers(1, 30))))
        rows = list(PredictionEnvelope.model_validate_json(raw).rows())
        envelope, batch = decode_message(raw).columns, decode_columns(orjson.dumps({"events": rows}))
        assert envelope is not None and batch is not None
        assert same(actual_columns(envelope), actual_columns(batch))
        # What the worker decodes again for categorical predictions (streams/core/columns.py).
        assert same(expected_columns(decode_rows(envelope.raw)), expected_columns(decode_rows(batch.raw)))


@native
@pytest.mark.parametrize("change, why", [
    (lambda e: e["columns"].update(timestamp=["2023-11-14T22:13:20Z"]), "RFC 3339 times are parsed in Python"),
    (lambda e: e["columns"].update(timestamp=[1.7e12]), "a float timestamp is for pydantic to judge"),
    (lambda e: e["columns"].update(prediction=[{"a": True}]), "booleans are not probabilities"),
])
def test_what_the_native_decoder_leaves_to_python_is_still_decoded(change, why):
    envelope = _envelope([GOOD])
    change(envelope)
    raw = orjson.dumps(envelope)
    assert decode_envelope_columns(raw) is None, why
    python = _decode_slowly(raw)
    assert [e.event_id for e in decode_message(raw).valid] == [e.event_id for e in python.events]
    assert [r.reason for r in decode_message(raw).rejects] == [r.reason for r in python.rejects]


@native
@pytest.mark.parametrize("raw", [
    b'{"model_id": "m", "columns": {"event_id": ["a"], "timestamp": [1], "prediction": [1],'
    b' "features": {"x": [1], "x": [2]}}}',
    b'{"model_id": "m", "model_id": "n", "columns": {"event_id": ["a"], "timestamp": [1], "prediction": [1],'
    b' "features": {}}}',
    b'{"model_id": "m", "columns": {"event_id": ["a"], "timestamp": [1], "prediction": [1], "features": {}}} x',
])
def test_repeated_keys_and_bad_json_are_left_to_the_python_path(raw):
    assert decode_envelope_columns(raw) is None and envelope_refusal(raw)


def test_the_wire_forms_are_told_apart_by_their_top_level_keys():
    envelope = _envelope([GOOD])
    assert is_envelope(envelope) and not is_envelope({**envelope, "event_id": "x"})
    assert not is_envelope({**envelope, "events": []}) and not is_envelope([envelope])
    single = decode_message(orjson.dumps({**GOOD, "columns": {"event_id": ["x"]}}))  # an extra field
    assert [e.event_id for e in single.valid] == ["e1"] and not single.rejects
    batch = decode_message(orjson.dumps({"events": [GOOD], "columns": 1}))
    assert (batch.columns.event_ids if NATIVE else [e.event_id for e in batch.events]) == ["e1"]
    as_single = decode_message(orjson.dumps({**envelope, "event_id": "x"}))  # then it is one (bad) event
    assert [r.reason.split(":")[0] for r in as_single.rejects] == ["invalid_event"]


def test_an_empty_envelope_holds_nothing_and_rejects_nothing():
    decoded = decode_message(encode_envelope("m", "1", [], [], [], {"a": []}))
    assert not decoded.valid and not decoded.rejects


def test_deep_nesting_in_an_envelope_is_rejected_whole():
    envelope = _envelope([GOOD])
    raw = orjson.dumps(envelope)[:-1] + b',"extra":' + b"[" * 100 + b"]" * 100 + b"}"
    decoded = decode_message(raw)
    assert [r.reason for r in decoded.rejects] == ["not_json: nested deeper than 64 levels"]


def test_encode_envelope_writes_what_the_model_reads():
    raw = encode_envelope("fraud", "3", ["a", "b"], [1, 2], [0.5, "x"], {"f": [1.5, None]}, latency_ms=[None, 2])
    model = PredictionEnvelope.model_validate_json(raw)
    assert len(model) == 2 and model.model_id == "fraud" and model.model_version == "3"
    assert [r["features"] for r in model.rows()] == [{"f": 1.5}, {"f": None}]
    assert "latency_ms" not in next(PredictionEnvelope.model_validate_json(
        encode_envelope("m", "", ["a"], [1], [1], {})).rows())
