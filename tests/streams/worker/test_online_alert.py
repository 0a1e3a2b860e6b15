"""An ADWIN alert is published when the detecting event is processed, not at the window's end."""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest

pytestmark = pytest.mark.stack


def test_prediction_shift_alerts_before_the_window_closes(stack, start_worker, worker_env, run_id):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"online-{run_id}"
    start_worker(DRIFTLINE_WINDOW_SECONDS="120")
    rng = np.random.default_rng(12)
    producer = stack.producer()
    shift_at = time.time() + 3.0
    n = 0
    while time.time() < shift_at + 3.0:
        now = time.time()
        centre = 0.2 if now < shift_at else 0.7
        events = [{"event_id": f"{n}-{i}", "model_id": model, "timestamp": int(now * 1000), "features": {},
                   "prediction": float(rng.normal(centre, 0.05)), "latency_ms": 5.0} for i in range(20)]
        producer.produce(f"{prefix}.predictions", key=model.encode(), value=orjson.dumps({"events": events}))
        producer.poll(0)
        n += 1
        time.sleep(0.02)
    producer.flush(10)
    (alert,) = stack.read_topic(f"{prefix}.alerts", expect=1, timeout_s=10, settle_s=1)
    body = orjson.loads(alert.value())
    assert (body["statistic"], body["feature"], body["model_id"]) == ("adwin", "prediction", model)
    _, published_ms = alert.timestamp()
    assert published_ms / 1000 - shift_at < 2.0  # seconds after the change, long before the window ends
    assert published_ms < body["window_end_ms"]
