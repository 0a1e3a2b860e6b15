"""A seeded stream whose shifted windows are known, for the backtest's tests (in memory, in a
file, on the real stack): the features of tests/streams/stack_data.py, one model, windows of
`WINDOW_MS`, `f_num_a` shifted by SHIFTS[w] standard deviations in window w."""

from __future__ import annotations

import numpy as np
import orjson

from detectors import build_profile
from schemas import ProfileMessage
from tests.streams.stack_data import feature_rows

WINDOW_MS = 10_000
EVENTS_PER_WINDOW = 3_000
# KS minor from window 1, PSI major from 3, clear from 6: opened at 1, escalated at 3, resolved at 7.
SHIFTS = [0.0, 0.3, 0.3, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
KNOWN_INCIDENT = [("firing", "opened", 1), ("firing", "escalated", 3), ("resolved", "resolved", 7)]
# PSI alone: a 0.35 sd shift (PSI ~0.11) fires below a 0.05 threshold only; a 1 sd one (~0.9) at 0.2.
MILD_AND_STRONG = [0.0, 0.35, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]


def profile(seed: int = 99):
    """The reference the windows are judged on (the same as stack_data.publish_profile's)."""
    rng = np.random.default_rng(seed)
    ref = feature_rows(rng, 20_000)
    return build_profile({name: [row[name] for row in ref] for name in ref[0]})


def profile_message(model: str) -> bytes:
    return ProfileMessage(model_id=model, created_at="2026-01-01T00:00:00Z",
                          profile=profile().to_dict()).model_dump_json().encode()


def messages(model: str, shifts: list[float], base_ms: int, *, seed: int = 7, batch: int = 500) -> list[bytes]:
    """Batch messages of the stream, window after window, event times sorted within each window."""
    rng = np.random.default_rng(seed)
    out = []
    for w, shift in enumerate(shifts):
        start = base_ms + w * WINDOW_MS
        times = np.sort(rng.integers(start, start + WINDOW_MS, EVENTS_PER_WINDOW))
        rows = feature_rows(rng, EVENTS_PER_WINDOW, shift)
        events = [{"event_id": f"{model}-{w}-{i}", "model_id": model, "model_version": "v1",
                   "timestamp": int(times[i]), "features": rows[i], "prediction": 0.5, "latency_ms": 3.0}
                  for i in range(EVENTS_PER_WINDOW)]
        out += [orjson.dumps({"events": events[i:i + batch]}) for i in range(0, EVENTS_PER_WINDOW, batch)]
    return out


def window_of(start_ms: int, base_ms: int) -> int:
    return (start_ms - base_ms) // WINDOW_MS


# A worker for the seeded stream on the real stack: its windows, closed 2 s after their end.
STACK_WORKER = dict(DRIFTLINE_WINDOW_SECONDS=str(WINDOW_MS // 1000), DRIFTLINE_ALLOWED_LATENESS_SECONDS="1",
                    DRIFTLINE_IDLE_GRACE_SECONDS="1", DRIFTLINE_ADWIN_DELTA="0")


def publish_stream(stack, prefix: str, model: str, shifts: list[float], *, seed: int, windows_ago: int = 20) -> int:
    """The model's profile, then (once the running worker has had a moment to read it) its stream,
    spread over the 4 predictions partitions as random keys would, starting `windows_ago` windows
    back; returns the first window's start."""
    import time

    producer = stack.producer(**{"message.max.bytes": 4_000_000})
    producer.produce(f"{prefix}.profiles", key=model.encode(), value=profile_message(model))
    assert producer.flush(10) == 0
    time.sleep(1.0)  # the worker follows the profiles topic
    base = (int(time.time() * 1000) // WINDOW_MS - windows_ago) * WINDOW_MS
    rng = np.random.default_rng(seed)
    for value in messages(model, shifts, base):
        producer.produce(f"{prefix}.predictions", value=value, partition=int(rng.integers(4)))
    assert producer.flush(10) == 0
    return base
