"""Poison messages of every kind mixed into a stream of valid batches and single events: each
reaches the DLQ with a reason, every valid event is counted, the worker stays up."""

from __future__ import annotations

import orjson
import pytest

from tests.faults.traffic import Producer, Traffic, Workers, dead_letters, publish_profiles, read_back, worker_env

pytestmark = pytest.mark.stack

GOOD = {"event_id": "poison", "model_id": "x", "timestamp": 1, "features": {"f_num_a": 1.0}, "prediction": 0.5}


def _nested(depth: int) -> bytes:
    return orjson.dumps(GOOD)[:-1] + b',"extra":' + b"[" * depth + b"]" * depth + b"}"


def poison_kinds(model: str) -> dict[str, tuple[bytes | None, int]]:
    """kind -> (message value, DLQ records it causes)."""
    good = orjson.dumps({**GOOD, "model_id": model, "timestamp": 10**12})
    return {
        "deep nesting, single event (10,000 levels)": (_nested(10_000), 1),
        "deep nesting, in a batch": (b'{"events": [' + _nested(10_000) + b"]}", 1),
        "2 MiB message": (b'{"events": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', 1),
        "invalid UTF-8": (good.replace(b'"poison"', b'"\xff\xfe"'), 1),
        "NaN token": (good.replace(b"1.0", b"NaN"), 1),
        "Infinity token": (good.replace(b"1.0", b"Infinity"), 1),
        "empty value": (b"", 1),
        "null value (tombstone)": (None, 1),
        "JSON null": (b"null", 1),
        "a JSON array": (b"[" + good + b"]", 1),
        "number where a string belongs": (good.replace(f'"{model}"'.encode(), b"5"), 1),
        "not JSON": (b"{oops", 1),
        "truncated JSON": (good[:-7], 1),
        "events not a list": (b'{"events": {"a": 1}}', 1),
        "features null": (orjson.dumps({**GOOD, "model_id": model, "features": None}), 1),
        "negative latency": (orjson.dumps({**GOOD, "model_id": model, "latency_ms": -1}), 1),
    }


def test_poison_messages_go_to_the_dlq_and_every_valid_event_counts(fault_stack, tmp_path, run_id, fault_result):
    traffic = Traffic(prefix=f"poison-{run_id}", seed=11)
    kinds = poison_kinds(traffic.model(0))
    bad = [(value, rejects, 0) for value, rejects in kinds.values()] * 3
    traffic.mix_in(bad, seed=12)
    # A batch with one bad event among good ones: only that event goes to the DLQ.
    for i, (key, value) in enumerate(traffic.messages):
        if value and value.startswith(b'{"events"'):
            body = orjson.loads(value)
            body["events"].insert(1, {**GOOD, "model_id": key, "features": {"f_num_a": {"nested": 1}}})
            traffic.messages[i] = (key, orjson.dumps(body))
            traffic.poison += 1
            break
    workers = Workers(worker_env(fault_stack, traffic.prefix, tmp_path), tmp_path)
    try:
        worker = workers.start()
        publish_profiles(fault_stack, traffic)
        producer = Producer(fault_stack, traffic, duration_s=25)
        producer.start()
        producer.finish()
        outcome = read_back(fault_stack, traffic)
        dlq = dead_letters(fault_stack, traffic)
        reasons = sorted({dict(m.headers())["reason"].decode().split(":")[0] for m in dlq})
        outcome.notes = f"{len(kinds)} kinds x3 + a bad batch member; DLQ {len(dlq)}/{traffic.poison} ({', '.join(reasons)})"
        alive = worker.proc.poll() is None
        fault_result("poison messages", outcome)
        assert not outcome.problems, outcome.problems[:10]
        assert len(dlq) == traffic.poison
        assert all(dict(m.headers())["reason"] for m in dlq)
        assert alive, worker.log()[-3000:]
        assert "Traceback" not in worker.log() and "restarting" not in worker.log().lower()
    finally:
        workers.stop_all()
