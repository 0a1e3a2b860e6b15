"""A join partition over seeded predictions and labels: its cumulative window states, merged over
partitions, equal scikit-learn's metrics on exactly the joined pairs; replays change nothing."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from detectors.performance import WindowPerformance
from schemas.join import JoinProgress, PendingPredictions, RoutedLabel, RoutedLabels, join_partition
from streams.core.join_partition import JoinPartition
from streams.core.label_join import LabelJoin, MemoryLabelStore
from streams.core.pending_index import PendingIndex

W = 60_000
J = 3


def _partitions():
    return [JoinPartition(j, LabelJoin(PendingIndex(), MemoryLabelStore(), window_ms=W, wait_ms=5 * W), W,
                          new_window=lambda m, v: WindowPerformance("binary")) for j in range(J)]


def _scenario(seed: int):
    rng = np.random.default_rng(seed)
    n = 4_000
    times = np.sort(rng.integers(0, 4 * W, n))
    scores = rng.random(n)
    truth = rng.random(n) < scores
    ids = [f"e{i}" for i in range(n)]
    labelled = rng.random(n) >= 0.3
    label_times = times + rng.integers(W, 3 * W, n)
    return ids, times, scores, truth, labelled, label_times


def _feed(parts, ids, times, scores, truth, labelled, label_times, *, replay=False):
    """Predictions in batches of 200 (routed like stage one), labels in messages of 50 (like the router)."""
    for start in range(0, len(ids), 200):
        rows = range(start, min(start + 200, len(ids)))
        by_part: dict[int, list[int]] = {}
        for i in rows:
            by_part.setdefault(join_partition("m", ids[i], J), []).append(i)
        for j, idx in by_part.items():
            msg = PendingPredictions.of("m", "1", [ids[i] for i in idx], [int(times[i]) for i in idx],
                                        [float(scores[i]) for i in idx])
            for _ in range(2 if replay else 1):
                parts[j].handle(msg)
    order = np.argsort(label_times)
    todo = [i for i in order if labelled[i]] + [-1] * 40  # 40 labels for unknown events
    for offset, start in enumerate(range(0, len(todo), 50)):
        by_part = {}
        for k, i in enumerate(todo[start:start + 50]):
            event, t, value = (ids[i], int(label_times[i]), bool(truth[i])) if i >= 0 else (f"x{start}-{k}", 2 * W, True)
            by_part.setdefault(join_partition("m", event, J), []).append(
                RoutedLabel(event_id=event, model_id="m", model_version="1", label=value, time_ms=t))
        for j, labels in by_part.items():
            msg = RoutedLabels(source_partition=0, source_offset=offset, labels=labels)
            for _ in range(2 if replay else 1):
                parts[j].handle(msg)
    for part in parts:  # time passes: early labels past their bound become orphans
        part.handle(JoinProgress(partition=0, partitions=1, closed_until_ms=10**7))


def _merged(parts):
    windows: dict[int, WindowPerformance] = {}
    for part in parts:
        for partial in part.take_partials():
            state = WindowPerformance.from_state(partial.state)
            windows[partial.window_start_ms] = windows[partial.window_start_ms].merge(state) \
                if partial.window_start_ms in windows else state
    return windows


@pytest.mark.parametrize("replay", [False, True])
def test_merged_join_partitions_equal_scikit_learn_on_the_joined_pairs(replay: bool) -> None:
    ids, times, scores, truth, labelled, label_times = _scenario(3)
    parts = _partitions()
    _feed(parts, ids, times, scores, truth, labelled, label_times, replay=replay)
    windows = _merged(parts)
    for w in range(4):
        mask = labelled & (times // W == w)
        snap = windows[w * W].snapshot(predicted=int((times // W == w).sum()))
        assert snap["labeled_count"] == mask.sum()
        assert snap["accuracy"] == pytest.approx(accuracy_score(truth[mask], scores[mask] >= 0.5), abs=1e-9)
        assert snap["auc"] == pytest.approx(roc_auc_score(truth[mask], scores[mask]), abs=1e-9)
        assert snap["label_coverage"] == pytest.approx(mask.sum() / (times // W == w).sum())
        lags = (label_times - times)[mask] / 1000
        assert snap["label_lag_p95_s"] == pytest.approx(np.percentile(lags, 95), rel=1e-9)
        assert snap["duplicate_labels"] == 0
    assert sum(win.snapshot(predicted=1)["orphan_labels"] for win in windows.values()) == 40
