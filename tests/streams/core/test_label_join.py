"""The label join's rules on seeded streams, against the test's own bookkeeping."""

from __future__ import annotations

import numpy as np

from streams.core.label_join import (Duplicate, Joined, Label, LabelJoin, MemoryLabelStore, Orphan,
                                     PendingPrediction)
from streams.core.pending_index import PendingIndex

H = 3_600_000


def _join(**kw) -> LabelJoin:
    return LabelJoin(PendingIndex(), waiting=MemoryLabelStore(), **kw)


def test_the_index_keeps_33_bytes_per_pending_prediction_and_the_first_copy_of_a_key() -> None:
    index = PendingIndex()
    keys = np.arange(1000, dtype=np.uint64) * np.uint64(7919)
    times, scores = np.arange(1000, dtype=np.int64), np.linspace(0, 1, 1000)
    codes = np.full(1000, -1, dtype=np.int32)
    index.add(keys, times, scores, codes, index.group_code("m", "1"))
    index.freeze()
    index.add(keys[:10], times[:10] + 5, scores[:10], codes[:10], 0)  # a replay: the first copy stands
    [row], [before] = index.take_labels(keys[3:4])
    assert int(row["t"]) == 3 and not before and index.take_labels(keys[3:4])[1][0]
    index.freeze()  # the replay's copies stay in a small chunk until a merge; lookups see the first
    assert len(index) == 1010 and index.chunks[0].data.nbytes + index.chunks[0].labelled.nbytes == 33 * 1000
    rows, before = index.take_labels(np.array([keys[3], 12345, keys[4], keys[4]], dtype=np.uint64))
    assert rows[1] is None and before.tolist() == [True, False, False, True]


def test_first_label_wins_duplicates_change_nothing_and_early_labels_wait() -> None:
    join = _join(wait_ms=60_000)
    join.advance(10 * H)
    assert join.add_prediction("m", "e1", PendingPrediction("1", 10 * H, 10 * H + 5, 0.9)) == []
    [joined] = join.add_label(Label("e1", "m", True, 10 * H + 65))
    assert isinstance(joined, Joined) and joined.lag_ms == 60 and joined.prediction.score == 0.9
    assert isinstance(join.add_label(Label("e1", "m", False, 10 * H + 99))[0], Duplicate)
    # A label before its prediction waits, and meets it; a second early label is a duplicate.
    assert join.add_label(Label("e2", "m", 1, 10 * H + 50)) == []
    assert join.add_label(Label("e2", "m", 0, 10 * H + 51)) == []
    joined, dup = join.add_prediction("m", "e2", PendingPrediction("1", 10 * H, 10 * H + 10, 0.2))
    assert joined.label.value == 1 and isinstance(dup, Duplicate)
    assert isinstance(join.add_label(Label("e2", "m", 1, 10 * H + 70))[0], Duplicate)
    # The same event id of another model is another event.
    assert join.add_label(Label("e1", "other", True, 10 * H)) == []


def test_labels_without_predictions_become_orphans_after_the_wait_bound() -> None:
    join = _join(wait_ms=60_000)
    join.advance(10 * H)
    join.add_label(Label("ghost", "m", True, 10 * H))
    assert join.settle(10 * H + 50_000) == []
    [orphan] = join.settle(10 * H + 80_000)  # bound 60 s, decided within 10 s of it
    # Once every partition is past a label's bound, a label without its prediction is an orphan at once.
    [at_once] = join.add_label(Label("ghost2", "m", True, 10 * H))
    assert at_once.reason == "unknown"
    assert isinstance(orphan, Orphan) and orphan.reason == "unknown" and orphan.label.event_id == "ghost"
    # A label older than the horizon: its prediction can only have expired.
    join.advance(10 * 24 * H)
    [late] = join.add_label(Label("old", "m", True, 2 * 24 * H))
    assert late.reason == "past_horizon"


def test_predictions_expire_after_the_horizon_and_memory_stays_bounded() -> None:
    join = _join(horizon_ms=24 * H)
    for hour in range(72):
        join.advance(hour * H)
        for i in range(100):
            join.add_prediction("m", f"{hour}-{i}", PendingPrediction("1", hour * H, hour * H + i, 0.5))
    assert len(join.index) <= 26 * 100  # the horizon plus the current and one partial bucket
    [orphan] = join.add_label(Label("0-1", "m", True, 0))
    assert orphan.reason == "past_horizon"
    assert isinstance(join.add_label(Label("70-1", "m", True, 70 * H + 5))[0], Joined)


def test_a_seeded_stream_accounts_for_every_label_exactly_once() -> None:
    rng = np.random.default_rng(11)
    join = _join(wait_ms=120_000)
    events = [(f"e{i}", int(t)) for i, t in enumerate(np.sort(rng.integers(0, 4 * 60_000, 2_000)))]
    times = dict(events)
    labelled = {e: t + int(rng.integers(60_000, 180_000)) for e, t in events if rng.random() >= 0.3}
    labels = [(e, t) for e, t in labelled.items()] + [(f"x{i}", int(rng.integers(0, 4 * 60_000))) for i in range(40)]
    labels += [(e, t + 1) for e, t in list(labelled.items())[:50]]  # duplicates
    stream = [("p", e, t, None) for e, t in events] + [("l", e, t, n) for n, (e, t) in enumerate(labels)]
    fate: dict[int, str] = {}
    joined_events: dict[str, int] = {}

    def record(out):
        for o in out:
            kind = "joined" if isinstance(o, Joined) else "duplicate" if isinstance(o, Duplicate) else "orphan"
            assert o.label.value not in fate
            fate[o.label.value] = kind
            if kind == "joined":
                assert o.label.event_id not in joined_events  # one join per event
                joined_events[o.label.event_id] = o.lag_ms
    for i in rng.permutation(len(stream)):  # fully shuffled: labels often come before their predictions
        kind, event, t, n = stream[i]
        if kind == "p":
            record(join.advance(t))
            record(join.settle(t - 60_000))  # the partitions' closes trail the newest event
            record(join.add_prediction("m", event, PendingPrediction("1", t // 60_000 * 60_000, t, 0.5)))
        else:
            record(join.add_label(Label(event, "m", n, t)))
    record(join.settle(10**9))
    assert sorted(fate) == list(range(len(labels)))  # every label ends joined, duplicate or orphan, once
    assert all(fate[n] == "orphan" for n, (e, _) in enumerate(labels) if e.startswith("x"))
    assert all(lag == labelled[e] - times[e] or lag == labelled[e] + 1 - times[e] for e, lag in joined_events.items())
    assert len(joined_events) > 0.9 * len(labelled)
