"""Latency of one window: count, mean, p50/p95/p99, max.

Exact while a window holds at most EXACT_LIMIT latencies: it keeps them (8 bytes each) and the
percentiles equal numpy's linear-interpolation percentiles. Beyond that it switches to a DDSketch
(Datadog's `ddsketch` library, its logarithmic mapping at 1 % relative accuracy): bucket counts
that merge by addition, so a window's partial state stays small (a few kB) however many events it
holds, and every percentile is within 1 % of the true value. Mean and max stay exact. Whether a
window is exact depends only on its total count, not on how its events were split over
partitions: merged states give the result of one state holding all the events.

Why DDSketch: a guarantee on the value's relative error (what latency SLOs are read in), exact
merges, and a maintained implementation. Events are bucketed with numpy (the mapping's key,
ln(x)/ln(γ) rounded up, checked against the library's own `key`), so the cost per event is a
log and a bincount (~30 ns); the library builds the sketch from bucket counts once per snapshot.
"""

from __future__ import annotations

import math

import numpy as np
from ddsketch import DDSketch
from ddsketch.mapping import LogarithmicMapping

EXACT_LIMIT = 16_384  # latencies kept exactly per window (128 kB; ~300 kB in a partial); beyond, the sketch
RELATIVE_ACCURACY = 0.01
_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
_LN_GAMMA = math.log(_MAPPING.gamma)


def _keys(values: np.ndarray) -> np.ndarray:
    keys = np.ceil(np.log(values) / _LN_GAMMA).astype(np.int64)
    lo, hi = int(values.argmin()), int(values.argmax())
    if _MAPPING.key(float(values[lo])) != keys[lo] or _MAPPING.key(float(values[hi])) != keys[hi]:
        keys = np.fromiter((_MAPPING.key(float(v)) for v in values), np.int64, len(values))  # the library's rule
    return keys


class LatencyState:
    """Latencies seen in one window.

    >>> s = LatencyState()
    >>> s.update(np.array([1.0, 2.0, 3.0, 4.0]))
    >>> s.snapshot()["latency_p50_ms"], s.snapshot()["latency_max_ms"]
    (2.5, 4.0)
    """

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []  # exact mode
        self._count = 0
        self._sum = 0.0
        self._max = -math.inf
        self._buckets: np.ndarray | None = None  # sketch mode: counts of keys offset, offset + 1, ...
        self._offset = 0
        self._zeros = 0  # latencies too small for the mapping (0 ms)

    @property
    def count(self) -> int:
        return self._count

    @property
    def exact(self) -> bool:
        return self._buckets is None

    def update(self, latencies_ms: np.ndarray) -> None:
        """Add a batch; NaN (no latency reported) is skipped."""
        values = np.asarray(latencies_ms, dtype=np.float64)
        values = values[~np.isnan(values)]
        if not values.size:
            return
        self._count += int(values.size)
        self._sum += float(values.sum())
        self._max = max(self._max, float(values.max()))
        if self._buckets is None:
            self._chunks.append(values)
            if self._count > EXACT_LIMIT:
                self._to_sketch()
        else:
            self._bucket(values)

    def _to_sketch(self) -> None:
        values = self.values()
        self._chunks = []
        self._buckets = np.zeros(0, dtype=np.int64)
        if values.size:
            self._bucket(values)

    def _bucket(self, values: np.ndarray) -> None:
        positive = values > _MAPPING.min_possible
        self._zeros += int(values.size - positive.sum())
        values = values[positive]
        if values.size:
            keys = _keys(values)
            lo = int(keys.min())
            self._add_counts(lo, np.bincount(keys - lo))

    def _add_counts(self, offset: int, counts: np.ndarray) -> None:
        if not counts.size:
            return
        if not self._buckets.size:
            self._buckets, self._offset = counts.astype(np.int64), offset
            return
        lo = min(self._offset, offset)
        hi = max(self._offset + self._buckets.size, offset + counts.size)
        merged = np.zeros(hi - lo, dtype=np.int64)
        merged[self._offset - lo:self._offset - lo + self._buckets.size] += self._buckets
        merged[offset - lo:offset - lo + counts.size] += counts
        self._buckets, self._offset = merged, lo

    def merge(self, other: "LatencyState") -> "LatencyState":
        merged = LatencyState()
        merged._count = self._count + other._count
        merged._sum = self._sum + other._sum
        merged._max = max(self._max, other._max)
        if self.exact and other.exact and merged._count <= EXACT_LIMIT:
            merged._chunks = [*self._chunks, *other._chunks]
            return merged
        merged._buckets = np.zeros(0, dtype=np.int64)
        for part in (self, other):
            if part.exact:
                values = part.values()
                if values.size:
                    merged._bucket(values)
            else:
                merged._add_counts(part._offset, part._buckets)
                merged._zeros += part._zeros
        return merged

    def values(self) -> np.ndarray:
        """The latencies themselves (exact mode only; empty once sketched)."""
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.empty(0)

    def to_state(self) -> dict:
        """Exact: the latencies (8 bytes each); sketched: the bucket counts and exact sum and max."""
        if self.exact:
            return {"latencies_ms": self.values().tolist()}
        nonzero = np.flatnonzero(self._buckets)
        first = int(nonzero[0]) if nonzero.size else 0
        last = int(nonzero[-1]) + 1 if nonzero.size else 0
        return {"sketch": {"relative_accuracy": RELATIVE_ACCURACY, "offset": self._offset + first,
                           "counts": self._buckets[first:last].tolist(), "zeros": self._zeros},
                "count": self._count, "sum": self._sum, "max": self._max}

    @classmethod
    def from_state(cls, state: dict) -> "LatencyState":
        restored = cls()
        if "sketch" not in state:
            restored.update(np.asarray(state["latencies_ms"], dtype=np.float64))
            return restored
        sketch = state["sketch"]
        if sketch["relative_accuracy"] != RELATIVE_ACCURACY:
            raise ValueError(f"latency sketch of relative accuracy {sketch['relative_accuracy']}, "
                             f"expected {RELATIVE_ACCURACY}")
        restored._buckets = np.asarray(sketch["counts"], dtype=np.int64)
        restored._offset, restored._zeros = int(sketch["offset"]), int(sketch["zeros"])
        restored._count, restored._sum, restored._max = int(state["count"]), float(state["sum"]), float(state["max"])
        return restored

    def snapshot(self) -> dict[str, float]:
        """Plain floats; empty when the window had no latency at all."""
        if self._count == 0:
            return {}
        if self.exact:
            values = self.values()
            p50, p95, p99 = np.percentile(values, [50, 95, 99])
            return {"latency_mean_ms": float(values.mean()), "latency_p50_ms": float(p50),
                    "latency_p95_ms": float(p95), "latency_p99_ms": float(p99),
                    "latency_max_ms": float(values.max())}
        sketch = DDSketch(RELATIVE_ACCURACY)
        if self._zeros:
            sketch.add(0.0, self._zeros)
        for i in np.flatnonzero(self._buckets):
            sketch.add(_MAPPING.value(self._offset + int(i)), float(self._buckets[i]))
        p50, p95, p99 = (min(sketch.get_quantile_value(q), self._max) for q in (0.5, 0.95, 0.99))
        return {"latency_mean_ms": self._sum / self._count, "latency_p50_ms": float(p50),
                "latency_p95_ms": float(p95), "latency_p99_ms": float(p99), "latency_max_ms": self._max}
