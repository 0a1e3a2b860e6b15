"""However the producer keys its messages (a random key each, none, the model id), one model's
windows come out of InfluxDB once each, with the counts and statistics of one partition holding
all of its events, and one alert for the window with a shifted feature."""

from __future__ import annotations

import os
import time

import numpy as np
import orjson
import pytest

from detectors.window import ModelWindow
from streams.core.columns import apply_columns, apply_events
from streams.core.decoding import decode_message
from streams.sinks.influx import _DRIFT_FIELDS
from tests.streams.stack_data import feature_rows, publish_profile, wait_until, window_fields

pytestmark = pytest.mark.stack

WINDOW_MS = 10_000


def _events(model, rng, start, n, shift):
    times = np.sort(rng.integers(start, start + WINDOW_MS, n))
    rows = feature_rows(rng, n, shift)
    return [{"event_id": f"{model}-{start}-{i}", "model_id": model, "model_version": "v1", "timestamp": int(times[i]),
             "features": rows[i], "prediction": float(rng.random()), "latency_ms": float(rng.gamma(2.0, 5.0))}
            for i in range(n)]


def _single_partition(profile, events) -> dict:
    """What one partition holding every event of the window gives (the worker's own decoding)."""
    window = ModelWindow(profile)
    for i in range(0, len(events), 250):
        decoded = decode_message(orjson.dumps({"events": events[i:i + 250]}))
        assert not decoded.rejects
        valid = decoded.valid
        apply_events(window, valid) if isinstance(valid, list) else apply_columns(window, valid)
    assert window.count == len(events)
    return window.snapshot()


@pytest.mark.parametrize("keying", ["random", "none", "model"])
def test_one_point_per_window_whatever_the_keying(stack, start_worker, worker_env, figures, keying):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"keys-{keying}-{prefix}"
    # ADWIN off: this test counts the window alerts (ADWIN once raised a latency change on these
    # stationary streams; its stream-level false-alarm rate is a known open point).
    worker = start_worker(DRIFTLINE_WINDOW_SECONDS="10", DRIFTLINE_ALLOWED_LATENESS_SECONDS="1",
                          DRIFTLINE_IDLE_GRACE_SECONDS="1", DRIFTLINE_ADWIN_DELTA="0")
    profile = publish_profile(stack, f"{prefix}.profiles", model)
    time.sleep(1.0)
    rng = np.random.default_rng(len(keying))
    base = (int(time.time() * 1000) // WINDOW_MS - 30) * WINDOW_MS
    windows = [_events(model, rng, base + w * WINDOW_MS, n, 1.0 if w == 1 else 0.0)
               for w, n in enumerate((3000, 3500, 4000))]
    producer = stack.producer(**{"message.max.bytes": 4_000_000})
    topic = f"{prefix}.predictions"

    def key():
        return {"random": os.urandom(8), "none": None, "model": model.encode()}[keying]

    for events in windows:
        for i in range(0, len(events), 250):
            chunk = events[i:i + 250]
            if (i // 250) % 3 == 0:  # every third chunk as single-event messages
                for e in chunk:
                    producer.produce(topic, key=key(), value=orjson.dumps(e))
            else:
                producer.produce(topic, key=key(), value=orjson.dumps({"events": chunk}))
            producer.poll(0)
    assert producer.flush(10) == 0

    span = (base // 1000 - 60, base // 1000 + 600)
    stats = wait_until(lambda: (s := window_fields(stack, "window_stats", model, *span)) and len(s) >= 3 and s, 90)
    alerts = stack.read_topic(f"{prefix}.alerts", expect=1, timeout_s=30, settle_s=3)
    assert sorted(stats) == [(base + w * WINDOW_MS,) for w in range(3)], worker.log()[-3000:]
    drift = window_fields(stack, "feature_drift", model, *span)
    assert len(drift) == 3 * 4  # one point per window and feature (a point is one per tag set and time)
    for w, events in enumerate(windows):
        start = base + w * WINDOW_MS
        expected = _single_partition(profile, events)
        assert stats[(start,)]["count"] == len(events) and stats[(start,)]["late_count"] == 0
        for feature, snap in expected["features"].items():
            point = drift[(start, feature)]
            for field, key_ in _DRIFT_FIELDS.items():
                if field in point:
                    assert point[field] == pytest.approx(snap[key_], rel=1e-9, abs=1e-12), (w, feature, field)
    assert len(alerts) == 1, [a.value() for a in alerts]
    alert = orjson.loads(alerts[0].value())
    assert (alert["feature"], alert["window_start_ms"]) == ("f_num_a", base + WINDOW_MS)
    partitions = {int(p) for p in __import__("re").findall(r"\((?:watermark|idle), (\d+) partition", worker.log())}
    figures(f"keying '{keying}': 3 windows of 3,000-4,000 events exact, 1 alert; partials per window "
                   f"from up to {max(partitions, default=0)} partition(s)")
