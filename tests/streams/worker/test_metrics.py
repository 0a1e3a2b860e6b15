"""The worker's metrics without a worker: bounded per-model series, /metrics and /health over HTTP."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import orjson
import pytest

from streams.worker.metrics import OTHER, WorkerMetrics
from streams.worker.metrics_server import parse_address, serve


def _value(metrics: WorkerMetrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_models_beyond_the_bound_are_summed_under_other():
    metrics = WorkerMetrics(max_models=2)
    end_ms = int(time.time() * 1000)
    for i in range(5):
        metrics.final_window(f"m{i}", "1", end_ms, events=100 + i, drifting=i % 2)
    assert _value(metrics, "driftline_model_window_events", model_id="m0", model_version="1") == 100
    assert _value(metrics, "driftline_model_window_events", model_id="m2", model_version="1") is None
    assert _value(metrics, "driftline_model_window_events", model_id=OTHER, model_version="") == 102 + 103 + 104
    assert _value(metrics, "driftline_model_drifting_features", model_id=OTHER, model_version="") == 1
    assert _value(metrics, "driftline_windows_finalised_total") == 5
    assert _value(metrics, "driftline_window_close_delay_seconds_count") == 5
    assert len({s.labels["model_id"] for m in metrics.registry.collect() if m.name == "driftline_model_window_events"
                for s in m.samples}) == 3


def test_addresses_parse_and_off_disables():
    assert parse_address("127.0.0.1:9477") == ("127.0.0.1", 9477)
    assert parse_address(":9000") == ("127.0.0.1", 9000)
    assert parse_address("[::1]:9000") == ("::1", 9000)
    assert parse_address("off") is None and parse_address("") is None


def test_metrics_and_health_are_served_and_a_stalled_worker_answers_503():
    metrics = WorkerMetrics()
    metrics.events.inc(42)
    metrics.dead_letters.labels("not_json").inc()
    server = serve(metrics, "127.0.0.1:0")
    try:
        host, port = server.server_address[:2]
        text = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5).read().decode()
        assert "driftline_events_total 42.0" in text
        assert 'driftline_dead_letter_events_total{reason="not_json"} 1.0' in text
        assert "process_resident_memory_bytes" in text and "process_open_fds" in text
        health = orjson.loads(urllib.request.urlopen(f"http://{host}:{port}/health", timeout=5).read())
        assert health["status"] == "ok"
        metrics.beat_at -= 60  # the timer stopped beating a minute ago
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://{host}:{port}/health", timeout=5)
        assert err.value.code == 503 and orjson.loads(err.value.read())["status"] == "stalled"
    finally:
        server.shutdown()


def test_a_taken_address_is_logged_and_not_fatal(caplog):
    first = serve(WorkerMetrics(), "127.0.0.1:0")
    try:
        port = first.server_address[1]
        assert serve(WorkerMetrics(), f"127.0.0.1:{port}") is None
        assert "metrics not served" in caplog.text
    finally:
        first.shutdown()
