"""Concept drift on the error stream: a calibrated classifier whose accuracy drops at a known point
is found by DDM and ADWIN on the errors in label-arrival order, soon after the drop, through a
join partition; no detection before it."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.performance import WindowPerformance
from schemas.join import JoinProgress, PendingPredictions, RoutedLabel, RoutedLabels
from streams.core.join_partition import JoinPartition
from streams.core.label_join import LabelJoin, MemoryLabelStore
from streams.core.pending_index import PendingIndex

W = 60_000


def _run(seed: int, n: int, drop_at: int):
    rng = np.random.default_rng(seed)
    times = np.arange(n) * 20  # 20 ms apart: the drop at 100 s (window 1)
    scores = rng.random(n)
    truth = rng.random(n) < scores  # calibrated ...
    flip = (np.arange(n) >= drop_at) & (rng.random(n) < 0.3)  # ... until 30 % of outcomes flip
    truth = np.where(flip, ~truth, truth)
    part = JoinPartition(0, LabelJoin(PendingIndex(), MemoryLabelStore(), window_ms=W), W,
                         new_window=lambda m, v: WindowPerformance("binary"))
    for i in range(0, n, 500):
        idx = range(i, min(i + 500, n))
        part.handle(PendingPredictions.of("m", "1", [f"e{k}" for k in idx], [int(times[k]) for k in idx],
                                          [float(scores[k]) for k in idx]))
    for offset, i in enumerate(range(0, n, 100)):  # labels in the predictions' order
        part.handle(RoutedLabels(source_partition=0, source_offset=offset, labels=[
            RoutedLabel(event_id=f"e{k}", model_id="m", label=bool(truth[k]), time_ms=int(times[k]) + 5_000)
            for k in range(i, min(i + 100, n))]))
    part.handle(JoinProgress(partition=0, partitions=1, closed_until_ms=10**9))
    return part.take_changes()


@pytest.mark.parametrize("seed", range(4))
def test_a_stationary_error_stream_raises_nothing(seed: int) -> None:
    assert _run(100 + seed, 8_000, 10**9) == []


def test_an_accuracy_drop_is_detected_soon_after_it_and_not_before(figures) -> None:
    drop_at = 5_000
    changes = _run(9, 8_000, drop_at)
    found = {c.alert.statistic: int(c.event_id[1:]) for c in reversed(changes)}  # the first of each
    figures(f"error stream: accuracy 0.75 -> 0.60 at label {drop_at}: DDM at label {found.get('ddm')}, "
            f"ADWIN on errors at label {found.get('adwin_error')}")
    assert set(found) == {"ddm", "adwin_error"}
    assert all(drop_at <= k <= drop_at + 1_000 for k in found.values())
    assert all(c.alert.feature == "error" and c.alert.window_start_ms == (int(c.event_id[1:]) * 20) // W * W
               for c in changes)  # labels in prediction order: the newest window is the label's own


def test_a_detection_is_keyed_to_the_newest_window_seen_not_to_a_late_label() -> None:
    from streams.core.error_watch import ErrorWatch

    watch = ErrorWatch(W)
    watch.observe("m", "1", "binary", 0.0, 3 * W, "a")
    watch.observe("m", "1", "binary", 0.0, 2 * W, "b")  # a label of an older window, arriving late
    assert watch.newest[("m", "1")] == 3 * W
    restored = ErrorWatch(W)
    restored.restore(("m", "1"), watch.to_state(("m", "1")))
    assert restored.newest[("m", "1")] == 3 * W
