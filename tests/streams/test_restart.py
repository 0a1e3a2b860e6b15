"""kill -9 of the worker mid-stream, then a restart: the same InfluxDB points as a worker that
never stopped, and no alert published twice."""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest

from tests.streams.stack_data import feature_rows, publish_profile, wait_until, window_fields

pytestmark = pytest.mark.stack

WINDOW_MS = 5_000


def _messages(rng, base_ms: int, n_windows: int = 8, per_window: int = 600) -> list[list[dict]]:
    """Batches of 1-40 events in rough time order, with jitter: some within the lateness, some beyond."""
    events = []
    for w in range(n_windows):
        start = base_ms + w * WINDOW_MS
        times = np.sort(rng.integers(start, start + WINDOW_MS, per_window))
        rows = feature_rows(rng, per_window, shift=1.5 if w == 3 else 0.0)
        lat = rng.gamma(2.0, 5.0, per_window)
        for i in range(per_window):
            jitter = int(rng.integers(0, 8_000)) if rng.random() < 0.03 else int(rng.integers(0, 3_000))
            events.append({"event_id": f"{w}-{i}", "model_version": "v1", "timestamp": int(times[i]) - jitter,
                           "features": rows[i], "prediction": 0.5, "latency_ms": float(lat[i])})
    messages, i = [], 0
    while i < len(events):
        k = int(rng.integers(1, 41))
        messages.append(events[i:i + k])
        i += k
    return messages


def _produce(producer, topic, model, messages):
    for chunk in messages:
        body = [{**e, "model_id": model} for e in chunk]
        value = orjson.dumps(body[0]) if len(body) == 1 else orjson.dumps({"events": body})
        producer.produce(topic, key=model.encode(), value=value)
    assert producer.flush(10) == 0


def test_kill_dash_nine_mid_stream_then_restart(stack, start_worker, worker_env, run_id):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    rng = np.random.default_rng(7)
    base = (int(time.time() * 1000) // WINDOW_MS - 200) * WINDOW_MS
    messages = _messages(rng, base)
    steady, crashed = f"steady-{run_id}", f"crashed-{run_id}"
    settings = {"DRIFTLINE_WINDOW_SECONDS": "5", "DRIFTLINE_ALLOWED_LATENESS_SECONDS": "2"}
    # Two workers, two topic sets: one runs undisturbed, the other is killed and restarted.
    reference = start_worker(**settings, DRIFTLINE_TOPIC_PREFIX=f"{prefix}-a", DRIFTLINE_APP_ID=f"{prefix}-a")
    victim_env = {**settings, "DRIFTLINE_TOPIC_PREFIX": f"{prefix}-b", "DRIFTLINE_APP_ID": f"{prefix}-b"}
    victim = start_worker(**victim_env)
    publish_profile(stack, f"{prefix}-a.profiles", steady)
    publish_profile(stack, f"{prefix}-b.profiles", crashed)
    time.sleep(1.0)

    producer = stack.producer()
    half = len(messages) // 2
    for lo in range(0, half, 20):  # steady flow: no pause long enough to close a window by idleness
        _produce(producer, f"{prefix}-a.predictions", steady, messages[lo:min(lo + 20, half)])
        _produce(producer, f"{prefix}-b.predictions", crashed, messages[lo:min(lo + 20, half)])
        time.sleep(0.05)
    start_s, stop_s = base // 1000 - 60, base // 1000 + 600
    assert wait_until(lambda: len(window_fields(stack, "window_stats", crashed, start_s, stop_s)) >= 2, 30)
    victim.kill9()
    _produce(producer, f"{prefix}-a.predictions", steady, messages[half:])
    _produce(producer, f"{prefix}-b.predictions", crashed, messages[half:])
    start_worker(**victim_env)

    def finished(model):
        return lambda: sum(f["count"] + f["late_count"]
                           for f in window_fields(stack, "window_stats", model, start_s, stop_s).values()) == \
            sum(len(m) for m in messages)

    assert wait_until(finished(steady), 60), reference.log()[-2000:]
    assert wait_until(finished(crashed), 60)
    for measurement in ("window_stats", "feature_drift"):
        want = window_fields(stack, measurement, steady, start_s, stop_s)
        got = window_fields(stack, measurement, crashed, start_s, stop_s)
        assert got == want, measurement
    late = sum(f["late_count"] for f in window_fields(stack, "window_stats", steady, start_s, stop_s).values())
    assert late > 0, "the stream should contain late events"

    alerts = stack.read_topic(f"{prefix}-b.alerts", expect=1, timeout_s=20, settle_s=3)
    ids = [orjson.loads(a.value())["alert_id"] for a in alerts]
    assert len(ids) == len(set(ids)) >= 1
    reference_alerts = stack.read_topic(f"{prefix}-a.alerts", expect=len(ids), timeout_s=20, settle_s=1)
    assert len(reference_alerts) == len(ids)
