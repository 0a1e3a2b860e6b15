import numpy as np
import pytest

from detectors import LatencyState


def test_latency_percentiles_equal_numpy_and_merge_exactly():
    rng = np.random.default_rng(9)
    values = rng.gamma(2.0, 5.0, 10_001)
    whole = LatencyState()
    whole.update(values)
    snap = whole.snapshot()
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    assert (snap["latency_p50_ms"], snap["latency_p95_ms"], snap["latency_p99_ms"]) == (p50, p95, p99)
    assert snap["latency_max_ms"] == values.max() and snap["latency_mean_ms"] == pytest.approx(values.mean(), rel=1e-15)
    parts = [LatencyState() for _ in range(5)]
    for part, chunk in zip(parts, np.array_split(values, 5)):
        part.update(chunk)
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    assert merged.snapshot()["latency_p99_ms"] == p99


def test_missing_latencies_are_skipped_and_empty_window_has_no_fields():
    s = LatencyState()
    s.update(np.array([np.nan, np.nan]))
    assert s.count == 0 and s.snapshot() == {}
