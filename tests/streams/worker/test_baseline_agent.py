"""The bench's bare consumers count the events of every wire form as the worker does."""

from __future__ import annotations

import orjson

from schemas.envelope import encode_envelope
from streams.worker.baseline_agent import events_in


def test_events_are_counted_in_single_events_batches_and_envelopes():
    envelope = encode_envelope("fraud", "3", ["a", "b", "c"], [1, 2, 3], [0.1, 0.2, 0.3], {"x": [1, 2, 3]})
    assert events_in(orjson.loads(envelope)) == 3
    assert events_in({"events": [{}, {}]}) == 2
    assert events_in({"event_id": "a", "model_id": "fraud"}) == 1
    assert events_in([1, 2]) == 1  # not an object: one (bad) event, as the worker's DLQ counts it
