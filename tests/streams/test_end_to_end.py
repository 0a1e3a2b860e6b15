"""The walking skeleton on the real stack: events in, windows in InfluxDB, alerts and DLQ out."""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest

from tests.streams.stack_data import feature_rows, publish_profile, window_fields

pytestmark = pytest.mark.stack

WINDOW_MS = 10_000
FEATURES = ("f_num_a", "f_num_b", "f_num_c")


def _events(model: str, rng, base_ms: int, window: int, n: int, shift: float = 0.0) -> list[dict]:
    start = base_ms + window * WINDOW_MS
    # Spread over the whole window, in time order, the last one near the window's end.
    times = np.sort(rng.integers(start, start + WINDOW_MS, n))
    times[-1] = start + WINDOW_MS - 1
    latencies = rng.gamma(2.0, 5.0, n)
    rows = feature_rows(rng, n, shift)
    return [{"event_id": f"{model}-{window}-{i}", "model_id": model, "model_version": "v1",
             "timestamp": int(times[i]) if i % 3 else _rfc3339(int(times[i])),
             "features": rows[i], "prediction": float(rng.random()), "latency_ms": float(latencies[i])}
            for i in range(n)]


def _rfc3339(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _malformed() -> list[tuple[bytes, str]]:
    good = {"event_id": "bad", "model_id": "m", "timestamp": 1, "features": {}, "prediction": 1}
    return [
        (b"{not json", "not_json"),
        (orjson.dumps({**good, "timestamp": "yesterday"}), "invalid_event"),
        (orjson.dumps({k: v for k, v in good.items() if k != "model_id"}), "invalid_event"),
        (orjson.dumps({**good, "latency_ms": -3}), "invalid_event"),
        (orjson.dumps({**good, "features": {"x": [1, 2]}}), "invalid_event"),
        (b'{"events": 5}', "invalid_batch"),
        (b"x" * (1024 * 1024 + 1), "too_large"),
    ]


def test_three_windows_end_to_end(stack, start_worker, worker_env):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"e2e-{prefix}"
    rng = np.random.default_rng(20261125)
    worker = start_worker(DRIFTLINE_WINDOW_SECONDS="10")
    publish_profile(stack, f"{prefix}.profiles", model, with_prediction=True)
    time.sleep(1.0)  # the worker follows the profiles topic; give it a moment to read the new one

    base = (int(time.time() * 1000) // WINDOW_MS - 60) * WINDOW_MS  # ten minutes ago: a replay
    windows = [_events(model, rng, base, w, n, shift=1.0 if w == 1 else 0.0) for w, n in enumerate((3000, 2500, 2000))]
    singles = stack.producer(**{"message.max.bytes": 4_000_000})
    # Real producers compress: single events go out with every codec a client may use.
    codecs = [stack.producer(**{"compression.type": c}) for c in ("gzip", "snappy", "zstd", "none")]
    batches = stack.producer(**{"compression.type": "lz4", "message.max.bytes": 4_000_000})
    topic = f"{prefix}.predictions"
    bad = _malformed()
    bad_in_batches = 0
    for w, events in enumerate(windows):
        for i in range(0, len(events), 500):
            chunk = events[i:i + 500]
            if i == 0:  # the first chunk of each window goes as single-event messages
                for j, e in enumerate(chunk):
                    codecs[j % len(codecs)].produce(topic, key=model.encode(), value=orjson.dumps(e))
                for producer in codecs:
                    producer.flush(10)
                continue
            if i == 500:  # two bad events inside a batch: only they go to the DLQ
                chunk = chunk + [{"event_id": "no-model", "timestamp": 1, "features": {}, "prediction": 1},
                                 {**chunk[0], "event_id": "bad-feature", "features": {"f": {"nested": 1}}}]
                bad_in_batches += 2
            batches.produce(topic, key=model.encode(), value=orjson.dumps({"events": chunk}))
            batches.flush(10)
        value, _ = bad[w]
        singles.produce(topic, key=model.encode(), value=value)
    for value, _ in bad[3:]:
        singles.produce(topic, key=model.encode(), value=value)
    assert singles.flush(10) == 0 and batches.flush(10) == 0

    # Window 3 closes by idleness: lateness 5 s + idle grace 5 s after the last event.
    alerts = stack.read_topic(f"{prefix}.alerts", expect=1, timeout_s=60, settle_s=15)
    rows = _wait_for_windows(stack, model, base, expected=3)

    by_window = {int(r["_time"].timestamp() * 1000): r for r in rows if r["_measurement"] == "window_stats"}
    for w, events in enumerate(windows):
        row = by_window[base + w * WINDOW_MS]
        assert row["count"] == len(events), worker.log()[-2000:]
        assert row["late_count"] == 0
        lat = np.array([e["latency_ms"] for e in events])
        expected = dict(zip(("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"), np.percentile(lat, [50, 95, 99])))
        expected.update(latency_mean_ms=lat.mean(), latency_max_ms=lat.max())
        for field, value in expected.items():
            assert row[field] == pytest.approx(value, rel=1e-12), field

    drift = _drift_rows(stack, model, base)
    for (w, feature), psi in drift.items():
        if w == 1 and feature == "f_num_a":
            assert psi >= 0.25
        else:
            assert psi < 0.1, (w, feature, psi)
    assert {f for _, f in drift} == {*FEATURES, "f_cat"}
    predictions = window_fields(stack, "prediction_drift", model, base // 1000 - 60, base // 1000 + 600)
    assert sorted(predictions) == [(base + w * WINDOW_MS,) for w in range(3)]
    assert all(p["psi"] < 0.1 and p["count"] > 0 for p in predictions.values())

    assert len(alerts) == 1, [a.value() for a in alerts]
    alert = orjson.loads(alerts[0].value())
    assert (alert["feature"], alert["window_start_ms"], alert["statistic"]) == ("f_num_a", base + WINDOW_MS, "psi")
    assert alert["model_id"] == model and alert["threshold"] == 0.2 and alert["value"] >= 0.25

    dlq = stack.read_topic(f"{prefix}.predictions.dlq", expect=len(bad) + bad_in_batches, timeout_s=30)
    reasons = sorted(dict(m.headers())["reason"].decode().split(":")[0] for m in dlq)
    assert reasons == sorted([code for _, code in bad] + ["invalid_event"] * bad_in_batches)
    for m in dlq:
        headers = dict(m.headers())
        assert headers["source_topic"].decode() == topic
        assert int(headers["source_offset"]) >= 0 and int(headers["source_partition"]) >= 0
    assert {m.value() for m in dlq} >= {value for value, _ in bad}
    assert worker_env["DRIFTLINE_INFLUX_TOKEN"] not in worker.log()  # secrets are never logged


def _wait_for_windows(stack, model: str, base: int, expected: int, timeout_s: float = 60) -> list[dict]:
    deadline = time.time() + timeout_s
    while True:
        rows = stack.flux(f'''
            from(bucket: "{stack.settings.influx_bucket}")
              |> range(start: {base // 1000 - 60}, stop: {base // 1000 + 600})
              |> filter(fn: (r) => r._measurement == "window_stats" and r.model_id == "{model}")
              |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")''')
        if len(rows) >= expected or time.time() > deadline:
            return rows
        time.sleep(0.5)


def _drift_rows(stack, model: str, base: int) -> dict[tuple[int, str], float]:
    rows = stack.flux(f'''
        from(bucket: "{stack.settings.influx_bucket}")
          |> range(start: {base // 1000 - 60}, stop: {base // 1000 + 600})
          |> filter(fn: (r) => r._measurement == "feature_drift" and r.model_id == "{model}" and r._field == "psi")''')
    return {((int(r["_time"].timestamp() * 1000) - base) // WINDOW_MS, r["feature"]): r["_value"] for r in rows}
