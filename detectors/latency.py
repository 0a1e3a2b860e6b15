"""Latency of one window: count, mean, p50/p95/p99, max.

Exact, not sketched: a window keeps its latencies (8 bytes each; 6M events = 48 MB) so the
percentiles equal numpy's linear-interpolation percentiles on the same events, and merging two
partitions' states is concatenation.
"""

from __future__ import annotations

import numpy as np


class LatencyState:
    """Latencies seen in one window.

    >>> s = LatencyState()
    >>> s.update(np.array([1.0, 2.0, 3.0, 4.0]))
    >>> s.snapshot()["latency_p50_ms"], s.snapshot()["latency_max_ms"]
    (2.5, 4.0)
    """

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    def update(self, latencies_ms: np.ndarray) -> None:
        """Add a batch; NaN (no latency reported) is skipped."""
        values = np.asarray(latencies_ms, dtype=np.float64)
        values = values[~np.isnan(values)]
        if values.size:
            self._chunks.append(values)
            self._count += int(values.size)

    def merge(self, other: "LatencyState") -> "LatencyState":
        merged = LatencyState()
        merged._chunks = [*self._chunks, *other._chunks]
        merged._count = self._count + other._count
        return merged

    def values(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.empty(0)

    def to_state(self) -> dict:
        """The latencies themselves: merging keeps the percentiles exact (8 bytes per event)."""
        return {"latencies_ms": self.values().tolist()}

    @classmethod
    def from_state(cls, state: dict) -> "LatencyState":
        restored = cls()
        restored.update(np.asarray(state["latencies_ms"], dtype=np.float64))
        return restored

    def snapshot(self) -> dict[str, float]:
        """Plain floats; empty when the window had no latency at all."""
        values = self.values()
        if values.size == 0:
            return {}
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        return {"latency_mean_ms": float(values.mean()), "latency_p50_ms": float(p50),
                "latency_p95_ms": float(p95), "latency_p99_ms": float(p99),
                "latency_max_ms": float(values.max())}
