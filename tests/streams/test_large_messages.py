"""Messages larger than the worker's per-partition fetch size still reach it, on every partition.

The worker fetches about one largest valid message per partition and request (app.py): far less
copying than fetching 8 MB per partition, but then an oversized message (for the DLQ) or a
producer's big record batch only comes back when its partition is the first non-empty one of a
response (Kafka's fetch v3+ rule), and aiokafka skips a message whose partition returned a partial
batch. This test puts such messages on every partition at seeded places, before the worker reads,
so that several partitions start a fetch with one, and checks from outside that nothing was lost.
"""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest

from schemas.prediction import MAX_MESSAGE_BYTES
from tests.streams.stack_data import create_topics, feature_rows, publish_profile, wait_until, window_fields

pytestmark = pytest.mark.stack

WINDOW_MS = 10_000
PARTITIONS = 4


def test_oversized_messages_on_every_partition_reach_the_dlq_and_lose_no_event(stack, start_worker, worker_env,
                                                                               monkeypatch, figures):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"large-{prefix}"
    create_topics(worker_env, monkeypatch)
    publish_profile(stack, f"{prefix}.profiles", model)
    rng = np.random.default_rng(20261202)
    topic = f"{prefix}.predictions"
    # Big record batches too: up to 8 MB of valid messages per batch (each well under the limit).
    producer = stack.producer(**{"message.max.bytes": 8_000_000, "batch.size": 8_000_000, "linger.ms": 50,
                                 "compression.type": "none"})
    base = (int(time.time() * 1000) // WINDOW_MS - 60) * WINDOW_MS  # ten minutes ago: a replay
    big: list[bytes] = []
    sent = 0
    for partition in range(PARTITIONS):
        # The first message of every partition is oversized, then more at seeded places.
        kinds = ["big"] + list(rng.choice(["big", "batch"], size=40, p=[0.15, 0.85]))
        for i, kind in enumerate(kinds):
            if kind == "big":  # random bytes: lz4 on the way cannot shrink them under the fetch size
                value = rng.bytes(int(rng.integers(MAX_MESSAGE_BYTES + 1, 6 * MAX_MESSAGE_BYTES)))
                big.append(value)
            else:
                n = 500
                times = rng.integers(base, base + WINDOW_MS, n)
                rows = feature_rows(rng, n)
                value = orjson.dumps({"events": [
                    {"event_id": f"{partition}-{i}-{j}", "model_id": model, "timestamp": int(times[j]),
                     "features": rows[j], "prediction": float(rng.random())} for j in range(n)]})
                sent += n
            producer.produce(topic, value=value, partition=partition)
            producer.poll(0)
    assert producer.flush(30) == 0

    worker = start_worker(DRIFTLINE_WINDOW_SECONDS="10")
    dlq = stack.read_topic(f"{prefix}.predictions.dlq", expect=len(big), timeout_s=90)
    counted = wait_until(lambda: window_fields(stack, "window_stats", model, base // 1000 - 60,
                                               base // 1000 + 600).get((base,), {}).get("count"), timeout_s=60)
    assert counted == sent, worker.log()[-3000:]
    assert sorted(len(m.value()) for m in dlq) == sorted(len(v) for v in big), worker.log()[-3000:]
    assert {m.value() for m in dlq} == set(big)
    assert {dict(m.headers())["reason"].decode().split(":")[0] for m in dlq} == {"too_large"}
    assert "RecordTooLarge" not in worker.log()
    figures(f"large messages: {len(big)} oversized (1-6 MB) on {PARTITIONS} partitions all in the DLQ, "
            f"{sent:,} events counted")
