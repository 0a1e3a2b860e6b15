"""Incidents on the real stack: a feature that drifts for five windows (minor, then major) and
then stops gives one `firing`, one escalation and one `resolved` alert, nothing else, also though
the worker is killed -9 inside the incident and restarted."""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest

from tests.streams.stack_data import feature_rows, publish_profile, wait_until

pytestmark = pytest.mark.stack

WINDOW_MS = 10_000
SHIFTS = [0.0, 0.3, 0.3, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # in sd of f_num_a: ks minor, then psi major


def _batches(model, rng, start, n, shift):
    times = np.sort(rng.integers(start, start + WINDOW_MS, n))
    rows = feature_rows(rng, n, shift)
    events = [{"event_id": f"{model}-{start}-{i}", "model_id": model, "model_version": "v1", "timestamp": int(times[i]),
               "features": rows[i], "prediction": 0.5, "latency_ms": 3.0} for i in range(n)]
    return [orjson.dumps({"events": events[i:i + 500]}) for i in range(0, n, 500)]


def _alerts(stack, prefix, expect):
    return [orjson.loads(m.value()) for m in stack.read_topic(f"{prefix}.alerts", expect=expect, timeout_s=60,
                                                                 settle_s=3)]


def test_one_firing_one_update_one_resolved_through_a_kill(stack, start_worker, worker_env, figures):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"inc-{prefix}"
    settings = dict(DRIFTLINE_WINDOW_SECONDS="10", DRIFTLINE_ALLOWED_LATENESS_SECONDS="1",
                    DRIFTLINE_IDLE_GRACE_SECONDS="1", DRIFTLINE_ADWIN_DELTA="0")
    worker = start_worker(**settings)
    publish_profile(stack, f"{prefix}.profiles", model)
    time.sleep(1.0)
    rng = np.random.default_rng(7)
    base = (int(time.time() * 1000) // WINDOW_MS - 40) * WINDOW_MS
    producer = stack.producer(**{"message.max.bytes": 4_000_000})
    topic = f"{prefix}.predictions"

    def produce(windows):
        for w in windows:
            for value in _batches(model, rng, base + w * WINDOW_MS, 3000, SHIFTS[w]):
                producer.produce(topic, key=model.encode(), value=value)
        assert producer.flush(10) == 0

    produce(range(0, 5))  # into the incident: opened at window 1, escalated at 3
    wait_until(lambda: len(_alerts(stack, prefix, 2)) >= 2, 60)
    worker.kill9()  # inside the incident
    worker = start_worker(**settings)
    produce(range(5, 9))
    alerts = _alerts(stack, prefix, 3)
    got = [(a["status"], a["reason"], (a["window_start_ms"] - base) // WINDOW_MS, a["feature"]) for a in alerts]
    figures(f"incident on the real stack (kill -9 inside it): {got}")
    assert got == [("firing", "opened", 1, "f_num_a"), ("firing", "escalated", 3, "f_num_a"),
                   ("resolved", "resolved", 7, "f_num_a")], worker.log()[-3000:]
    assert len({a["alert_id"] for a in alerts}) == 3
    assert {a["dedup_key"] for a in alerts} == {f"{model}/v1/f_num_a/drift"}
    assert all(a["incident_start_ms"] == base + WINDOW_MS and a["schema_version"] == 2 for a in alerts)
    assert alerts[-1]["windows_in_incident"] == 7
