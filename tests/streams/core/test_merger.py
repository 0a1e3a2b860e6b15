"""The merge stage's core: partials of one window from several partitions merge, in any order,
into what one partition holding every event gives; replays replace, never add; a window is final
only when every partition has passed its end."""

import json

import numpy as np
import pytest

from detectors import build_profile
from detectors.window import ModelWindow
from streams.core.merger import WindowMerger

RNG = np.random.default_rng(8)
PROFILES = {"p1": build_profile({"x": list(RNG.normal(size=3000))}),
            "p2": build_profile({"x": list(RNG.normal(1.0, 1.0, 3000))})}
W = ("m", "1", 0, 10_000)


def _restore(state, profile):
    return ModelWindow.from_state(state, PROFILES[profile])


def _part(rng, profile="p1", n=None):
    window = ModelWindow(PROFILES[profile])
    n = int(rng.integers(10, 500)) if n is None else n
    window.update({"x": rng.normal(0.2, 1.0, n)}, latencies_ms=rng.gamma(2.0, 5.0, n), events=n)
    return window


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_partials_merge_in_any_order_into_the_single_partition_result(seed):
    rng = np.random.default_rng(seed)
    parts = {p: _part(rng) for p in range(4)}
    whole = parts[0]
    for p in (1, 2, 3):
        whole = whole.merge(parts[p])
    merger = WindowMerger(4, _restore)
    for p in rng.permutation(4):
        state = json.loads(json.dumps(parts[int(p)].to_state()))
        assert merger.add_partial(W, int(p), "p1", state)
    for p in rng.permutation(4):
        merger.progress(int(p), 10_000)
    (final,) = merger.finalise()
    got, want = final.window.snapshot(), whole.snapshot()
    assert got["count"] == want["count"] and final.partitions == (0, 1, 2, 3)
    assert got["features"]["x"]["ks"] == pytest.approx(want["features"]["x"]["ks"], abs=1e-12)
    assert got["features"]["x"]["psi"] == pytest.approx(want["features"]["x"]["psi"], rel=1e-9)
    assert got["latency"] == pytest.approx(want["latency"], rel=1e-12)


def test_a_replayed_partial_replaces_its_earlier_copy():
    rng = np.random.default_rng(4)
    merger = WindowMerger(2, _restore)
    merger.add_partial(W, 0, "p1", _part(rng, n=100).to_state())
    merger.add_partial(W, 0, "p1", _part(rng, n=100).to_state())  # the same partition again, after a crash
    merger.add_partial(W, 1, "p1", _part(rng, n=50).to_state())
    merger.progress(0, 10_000)
    merger.progress(1, 10_000)
    (final,) = merger.finalise()
    assert final.window.count == 150
    assert not merger.add_partial(W, 0, "p1", _part(rng, n=100).to_state())  # final already: ignored


def test_a_window_waits_for_every_partition_even_one_without_its_events():
    rng = np.random.default_rng(5)
    merger = WindowMerger(3, _restore)
    merger.add_partial(W, 0, "p1", _part(rng, n=10).to_state())
    merger.progress(0, 20_000)
    merger.progress(1, 20_000)
    assert merger.finalise() == []  # partition 2 has not reported
    merger.progress(2, 5_000)
    assert merger.finalise() == []  # ... and is not past the end yet
    merger.progress(2, 10_000)  # it never saw the model: its progress alone lets the window go
    (final,) = merger.finalise()
    assert final.window.count == 10 and merger.watermark_ms == 10_000


def test_partials_on_another_profile_are_reported_apart_not_lost():
    rng = np.random.default_rng(6)
    merger = WindowMerger(3, _restore)
    merger.add_partial(W, 0, "p1", _part(rng, "p1", n=300).to_state())
    merger.add_partial(W, 1, "p2", _part(rng, "p2", n=40).to_state())  # a new profile, mid-window
    merger.add_partial(W, 2, "p1", _part(rng, "p1", n=200).to_state())
    for p in range(3):
        merger.progress(p, 10_000)
    (final,) = merger.finalise()
    assert final.window.count == 500 and final.partitions == (0, 2) and final.unmerged_events == 40


def test_the_state_survives_a_restart():
    rng = np.random.default_rng(7)
    merger = WindowMerger(2, _restore)
    merger.add_partial(W, 0, "p1", _part(rng, n=30).to_state())
    merger.progress(0, 10_000)
    restored = WindowMerger.from_state(json.loads(json.dumps(merger.to_state())), 2, _restore)
    restored.add_partial(W, 1, "p1", _part(rng, n=20).to_state())
    restored.progress(1, 10_000)
    (final,) = restored.finalise()
    assert final.window.count == 50
