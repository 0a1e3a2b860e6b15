"""Synthetic prediction events on the wire format, built fast from a pool of pre-serialised parts.

An event is `head % (index, timestamp)` + a pooled tail: the head carries the event id, model and
event time, the tail the 30 features, prediction and latency (pre-serialised with orjson once).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import orjson

NUMERIC = [f"num_{i:02d}" for i in range(25)]
CATEGORICAL = {f"cat_{i}": [f"c{i}_{v}" for v in range(4 + 2 * i)] for i in range(5)}
WINDOW_MS = 60_000


class EventPool:
    def __init__(self, tag: str, models: list[str], size: int = 2048, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        means = rng.uniform(-50, 50, len(NUMERIC))
        scales = rng.uniform(0.5, 20, len(NUMERIC))
        numeric = rng.normal(means, scales, (size, len(NUMERIC))).round(4)
        categorical = {name: rng.choice(values, size) for name, values in CATEGORICAL.items()}
        predictions = rng.uniform(0, 1, size).round(4)
        latencies = rng.gamma(2.0, 4.0, size).round(3)
        self.rows: list[dict] = []
        self.tails: list[bytes] = []
        for k in range(size):
            features: dict[str, object] = {n: float(numeric[k, j]) for j, n in enumerate(NUMERIC)}
            features.update({n: str(categorical[n][k]) for n in CATEGORICAL})
            self.rows.append(features)
            rest = orjson.dumps({"features": features, "prediction": float(predictions[k]),
                                 "latency_ms": float(latencies[k])})
            self.tails.append(b"," + rest[1:])  # '{"features":...}' -> ',"features":...}'
        self.predictions = predictions.tolist()
        self.latencies = latencies.tolist()
        self.models, self.tag = models, tag
        self.heads = [b'{"event_id":"' + tag.encode() + b'-%d","model_id":"' + m.encode()
                      + b'","model_version":"1","timestamp":%d' for m in models]

    def event(self, model: int, index: int, t_ms: int) -> bytes:
        return self.heads[model] % (index, t_ms) + self.tails[index % len(self.tails)]

    def envelope(self, model: int, lo: int, hi: int, at) -> bytes:
        """Events lo..hi-1 of one model as the SDK sends them: a columnar envelope (schemas/envelope.py)."""
        from schemas.envelope import encode_envelope

        rows = [k % len(self.rows) for k in range(lo, hi)]
        features = {name: [self.rows[k][name] for k in rows] for name in self.rows[0]}
        return encode_envelope(self.models[model], "1", [f"{self.tag}-{i}" for i in range(lo, hi)],
                               [at(i) for i in range(lo, hi)], [self.predictions[k] for k in rows], features,
                               [self.latencies[k] for k in rows])

    def profile_payload(self, model_id: str) -> bytes:
        """A reference profile of the pool, as published to `<prefix>.profiles` (key: model_id)."""
        from detectors import build_profile
        from schemas import ProfileMessage

        columns = {name: [row[name] for row in self.rows] for name in self.rows[0]}
        profile = build_profile(columns, bins=10, prediction=self.predictions)
        message = ProfileMessage(model_id=model_id, source="bench", profile=profile.to_dict(),
                                 created_at=dt.datetime.now(dt.timezone.utc).isoformat())
        return message.model_dump_json().encode()


class Timeline:
    """Event times: `windows` windows of 60 s starting an hour ago, increasing with the index."""

    def __init__(self, events: int, now_ms: int, windows: int = 10) -> None:
        self.events = events
        self.start_ms = (now_ms - 3_600_000) // WINDOW_MS * WINDOW_MS
        self.span_ms = windows * WINDOW_MS
        self.end_ms = self.start_ms + self.span_ms  # exclusive; every real window ends by then
        # 10 minutes after the data: the watermark passes every real window's end + lateness.
        self.sentinel_ms = self.end_ms + 600_000

    def at(self, index: int) -> int:
        return self.start_ms + index * self.span_ms // self.events
