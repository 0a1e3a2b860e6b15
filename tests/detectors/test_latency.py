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


@pytest.mark.parametrize("dist", ["gamma", "lognormal", "pareto", "with_zeros"])
def test_large_windows_are_sketched_within_one_percent_of_numpy(dist):
    from detectors.latency import EXACT_LIMIT, RELATIVE_ACCURACY

    rng = np.random.default_rng(12)
    n = 300_000
    values = {"gamma": rng.gamma(2.0, 5.0, n), "lognormal": rng.lognormal(2.0, 1.0, n),
              "pareto": 1 + rng.pareto(1.5, n), "with_zeros": np.where(rng.random(n) < 0.1, 0.0, rng.gamma(2, 5, n))}[dist]
    state = LatencyState()
    for chunk in np.array_split(values, 73):
        state.update(chunk)
    assert not state.exact and state.count == n > EXACT_LIMIT
    snap = state.snapshot()
    for q, key in ((50, "latency_p50_ms"), (95, "latency_p95_ms"), (99, "latency_p99_ms")):
        truth = np.percentile(values, q)
        assert abs(snap[key] - truth) <= RELATIVE_ACCURACY * truth + 1e-12, (q, snap[key], truth)
    assert snap["latency_max_ms"] == values.max()
    assert snap["latency_mean_ms"] == pytest.approx(values.mean(), rel=1e-12)


def test_a_sketched_window_split_over_partitions_merges_into_the_same_result_in_any_order():
    rng = np.random.default_rng(13)
    values = rng.gamma(2.0, 5.0, 200_000)
    whole = LatencyState()
    whole.update(values)
    sizes = [10, 12_000, 1_000, 60_000, 126_990]  # some parts exact, some sketched, the total is not
    parts, at = [], 0
    for size in sizes:
        part = LatencyState()
        part.update(values[at:at + size])
        parts.append(LatencyState.from_state(part.to_state()))  # through the wire form
        at += size
    for order in (range(5), [3, 0, 4, 1, 2]):
        merged = parts[order[0]]
        for i in order[1:]:
            merged = merged.merge(parts[i])
        got, want = merged.snapshot(), whole.snapshot()
        assert {k: v for k, v in got.items() if k != "latency_mean_ms"} == {
            k: v for k, v in want.items() if k != "latency_mean_ms"}
        assert got["latency_mean_ms"] == pytest.approx(want["latency_mean_ms"], rel=1e-12)


def test_a_sketched_state_stays_small_on_the_wire():
    import orjson

    state = LatencyState()
    state.update(np.random.default_rng(1).lognormal(2.0, 1.5, 1_000_000))
    assert len(orjson.dumps(state.to_state())) < 10_000


def test_the_bucket_rule_is_the_librarys():
    from ddsketch.mapping import LogarithmicMapping

    from detectors.latency import RELATIVE_ACCURACY, _keys

    mapping = LogarithmicMapping(RELATIVE_ACCURACY)
    values = np.random.default_rng(2).lognormal(0.0, 4.0, 20_000)
    assert _keys(values).tolist() == [mapping.key(float(v)) for v in values]
