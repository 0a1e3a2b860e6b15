"""A window spread over partitions: each part's state, serialised and restored, merges into the
statistics of one window holding every event (the merge stage's contract)."""

import json

import numpy as np
import pytest

from detectors import DetectorError, build_profile
from detectors.window import ModelWindow


def _profile(rng):
    return build_profile({"x": list(rng.normal(size=5000)), "y": list(rng.gamma(2.0, 2.0, 5000)),
                          "c": [str(v) for v in rng.choice(["a", "b", "c"], 5000)]},
                         prediction=list(rng.random(5000)))


def _batch(rng, n, shift=0.0):
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.05] = np.nan
    columns = {"x": x, "y": rng.gamma(2.0, 2.0, n), "c": [str(v) for v in rng.choice(["a", "b", "d", None], n)]}
    return columns, rng.gamma(2.0, 5.0, n), rng.random(n)


def _close(a, b):
    if isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            _close(a[k], b[k])
    elif isinstance(a, list):
        assert a == b
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parts_restored_and_merged_equal_one_window_with_all_events(seed):
    rng = np.random.default_rng(seed)
    profile = _profile(rng)
    whole = ModelWindow(profile)
    parts = [ModelWindow(profile) for _ in range(4)]
    for i in range(12):  # batches spread over four partitions in any order
        columns, latency, predictions = _batch(rng, int(rng.integers(50, 700)), shift=0.3)
        whole.update(columns, latencies_ms=latency, events=len(latency), predictions=predictions)
        parts[int(rng.integers(0, 4))].update(columns, latencies_ms=latency, events=len(latency),
                                              predictions=predictions)
    parts[1].add_late(3)
    whole.add_late(3)
    restored = [ModelWindow.from_state(json.loads(json.dumps(p.to_state())), profile) for p in parts]
    order = rng.permutation(4)
    merged = restored[order[0]]
    for k in order[1:]:
        merged = merged.merge(restored[k])
    _close(merged.snapshot(), whole.snapshot())


def test_a_state_of_another_profile_is_refused():
    rng = np.random.default_rng(4)
    window = ModelWindow(_profile(rng))
    with pytest.raises(DetectorError):
        ModelWindow.from_state(window.to_state(), _profile(np.random.default_rng(5)))
    state = window.to_state()
    state["features"]["x"]["type_errors"] = -1
    with pytest.raises(DetectorError):
        ModelWindow.from_state(state, window.profile)
