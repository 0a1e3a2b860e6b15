"""Data and queries shared by the tests that run against the real stack."""

from __future__ import annotations

import time

import numpy as np

from detectors import build_profile
from schemas import ProfileMessage


def feature_rows(rng: np.random.Generator, n: int, shift: float = 0.0) -> list[dict]:
    a = rng.normal(0, 1, n) + shift
    b = rng.gamma(2.0, 2.0, n)
    c = rng.uniform(0, 10, n)
    cat = rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2])
    return [{"f_num_a": float(a[i]), "f_num_b": float(b[i]), "f_num_c": None if i % 50 == 0 else float(c[i]),
             "f_cat": str(cat[i])} for i in range(n)]


def publish_profile(stack, topic: str, model: str, seed: int = 99, with_prediction: bool = False, performance=None):
    """A profile of feature_rows(), returned; with_prediction adds a uniform prediction score's
    profile, `performance` a PerformanceProfile (detectors/performance_profile.py)."""
    rng = np.random.default_rng(seed)
    ref = feature_rows(rng, 20_000)
    columns = {name: [row[name] for row in ref] for name in ref[0]}
    profile = build_profile(columns, prediction=list(rng.random(20_000)) if with_prediction else None)
    if performance is not None:
        import dataclasses

        profile = dataclasses.replace(profile, performance=performance)
    message = ProfileMessage(model_id=model, created_at="2026-01-01T00:00:00Z", profile=profile.to_dict())
    producer = stack.producer()
    producer.produce(topic, key=model.encode(), value=message.model_dump_json().encode())
    assert producer.flush(10) == 0
    return profile


def window_fields(stack, measurement: str, model: str, start_s: int, stop_s: int) -> dict[tuple, dict]:
    """(window start ms[, feature]) -> {field: value} for one model, straight from a Flux query."""
    rows = stack.flux(f'''
        from(bucket: "{stack.settings.influx_bucket}")
          |> range(start: {start_s}, stop: {stop_s})
          |> filter(fn: (r) => r._measurement == "{measurement}" and r.model_id == "{model}")''')
    out: dict[tuple, dict] = {}
    for r in rows:
        key = (int(r["_time"].timestamp() * 1000),) + ((r["feature"],) if "feature" in r else ())
        out.setdefault(key, {})[r["_field"]] = r["_value"]
    return out


def wait_until(predicate, timeout_s: float, interval_s: float = 0.25):
    deadline = time.time() + timeout_s
    while True:
        value = predicate()
        if value or time.time() > deadline:
            return value
        time.sleep(interval_s)


def create_topics(worker_env: dict[str, str], monkeypatch) -> None:
    """The worker's topics, created as the worker would with worker_env's settings (before it runs)."""
    from streams.kafka.topics import ensure_topics
    from streams.settings import Settings

    for key, value in worker_env.items():
        if key.startswith("DRIFTLINE_"):
            monkeypatch.setenv(key, value)
    ensure_topics(Settings())
