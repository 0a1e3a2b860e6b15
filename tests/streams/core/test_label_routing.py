"""Label routing: valid labels to their join partitions, every bad input to the DLQ with a one-line
reason, and one bad label in a batch loses nothing else."""

from __future__ import annotations

import orjson
import pytest

from schemas.join import decode_join_message, join_partition
from streams.core.label_routing import route_labels

GOOD = {"event_id": "e1", "model_id": "fraud", "label": True, "timestamp": 1_700_000_000_000}


def test_a_batch_is_routed_per_join_partition_with_its_source() -> None:
    labels = [{**GOOD, "event_id": f"e{i}", "label": i % 2} for i in range(50)]
    routed = route_labels(orjson.dumps({"labels": labels}), 2, 41, 4)
    assert routed.rejects == []
    seen = set()
    for j, raw in routed.messages:
        message = decode_join_message(raw)
        assert (message.source_partition, message.source_offset) == (2, 41)
        for label in message.labels:
            assert join_partition("fraud", label.event_id, 4) == j
            seen.add(label.event_id)
    assert len(seen) == 50


@pytest.mark.parametrize(("raw", "code"), [
    (b"", "empty"), (b"{nope", "not_json"), (b"[1, 2]", "invalid_label"), (b"[" * 100 + b"]" * 100, "not_json"),
    (orjson.dumps({"labels": 3}), "invalid_batch"), (orjson.dumps({**GOOD, "label": None}), "invalid_label"),
    (orjson.dumps({**GOOD, "event_id": ""}), "invalid_label"), (orjson.dumps({**GOOD, "timestamp": "soon"}),
                                                                  "invalid_label"),
    (orjson.dumps({**GOOD, "label": float("inf")}).replace(b"null", b"1e999"), "not_json"),
    (b"x" * (2 * 1024 * 1024), "too_large"),
])
def test_every_bad_input_is_one_clear_reason(raw: bytes, code: str) -> None:
    routed = route_labels(raw, 0, 0, 4)
    assert routed.messages == [] and len(routed.rejects) == 1
    assert routed.rejects[0][1].startswith(code + ":") and "\n" not in routed.rejects[0][1]


def test_one_bad_label_in_a_batch_loses_nothing_else() -> None:
    routed = route_labels(orjson.dumps({"labels": [GOOD, {**GOOD, "model_id": 7}, {**GOOD, "event_id": "e2"}]}), 0, 9, 1)
    assert len(routed.rejects) == 1 and "model_id" in routed.rejects[0][1]
    assert [label.event_id for label in decode_join_message(routed.messages[0][1]).labels] == ["e1", "e2"]
