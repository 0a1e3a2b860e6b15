import msgspec
import numpy as np
import pytest

from detectors.profile import build_profile
from schemas.columnar import NATIVE, decode_columns
from schemas.fast_path import WireEvent
from streams.core.windowing import PartitionWindows

W = 60_000


def _ev(model="m", t=0, x=0.0, lat=1.0):
    return WireEvent(event_id="e", model_id=model, model_version="1", timestamp=t, features={"x": x},
                     prediction=0.0, latency_ms=lat)


def _windows(profile=None):
    return PartitionWindows(W, 5_000, 5_000, lambda m, v: profile)


def _add(pw, events, offset=0, wall=0.0):
    return pw.add(events, offset=offset, wall_ms=wall)


def test_window_closes_when_watermark_passes_end_plus_lateness():
    pw = _windows()
    _add(pw, [_ev(t=1_000), _ev(t=59_000)])
    assert pw.pop_due(wall_ms=0) == []
    _add(pw, [_ev(t=64_999)], offset=1)
    assert pw.pop_due(wall_ms=0) == []
    _add(pw, [_ev(t=65_000)], offset=2)
    closed = pw.pop_due(wall_ms=0)
    assert [(c.start_ms, c.state.count, c.first_offset) for c in closed] == [(0, 2, 0)]
    assert pw.checkpoint().base_offset == 1


def test_late_event_counts_in_current_window_not_rewriting_closed_one():
    pw = _windows()
    _add(pw, [_ev(t=1_000)])
    _add(pw, [_ev(t=70_000)], offset=1)
    assert [c.start_ms for c in pw.pop_due(0)] == [0]
    _add(pw, [_ev(t=2_000), _ev(t=3_000)], offset=2)
    assert pw.pop_due(0) == []
    (current,) = pw.windows.values()
    current.flush()
    assert current.key[2] == W and current.state.count == 1 and current.state.late_count == 2


def test_idle_partition_closes_by_wall_clock_after_grace():
    pw = _windows()
    _add(pw, [_ev(t=1_000)], wall=100_000.0)
    pw.confirm_end(1, looked_at_ms=100_000.0)  # nothing left to read
    # Wall clock is past end + lateness + grace, but the partition has not been idle long enough.
    pw.confirm_end(1, looked_at_ms=103_000.0)
    assert pw.pop_due(wall_ms=104_000.0) == []
    pw.confirm_end(1, looked_at_ms=104_500.0)
    closed = pw.pop_due(wall_ms=105_000.0)
    assert [(c.start_ms, c.closed_by) for c in closed] == [(0, "idle")]
    # A straggler for the closed window is late, counted in a window that is not closed.
    _add(pw, [_ev(t=2_000)], offset=5, wall=106_000.0)
    (current,) = pw.windows.values()
    assert current.state.late_count == 1 and current.key[2] + W > pw.closed_until_ms


def test_windows_are_per_model_and_features_binned_against_profile():
    profile = build_profile({"x": list(np.linspace(0, 1, 101))}, bins=4)
    pw = PartitionWindows(W, 0, 5_000, lambda m, v: profile if m == "a" else None)
    _add(pw, [_ev("a", 1, 0.1), _ev("b", 2, 0.9), _ev("a", 3, None)])
    _add(pw, [_ev("a", W, 0.5)], offset=1)
    closed = {c.model_id: c.state.snapshot() for c in pw.pop_due(0)}
    assert closed["a"]["count"] == 2 and closed["a"]["features"]["x"]["missing_share"] == 0.5
    assert closed["b"]["count"] == 1 and closed["b"]["features"] == {}


def test_the_cheap_watermark_check_agrees_with_the_full_one_right_after_an_event():
    rng = np.random.default_rng(9)
    pw = _windows()
    t = 10 * W
    for offset in range(3_000):
        t += int(rng.integers(-20_000, 25_000))  # out of order, sometimes by more than the lateness
        wall = float(offset)
        _add(pw, [_ev(t=max(t, 0))], offset=offset, wall=wall)
        assert pw.due_by_watermark() == pw.has_due(wall), offset
        if rng.random() < 0.7:
            pw.pop_due(wall)


@pytest.mark.skipif(not NATIVE, reason="the native batch decoder was not built")
def test_batches_decoded_column_wise_give_the_same_windows_as_events():
    rng = np.random.default_rng(2)
    profile = build_profile({"x": rng.normal(0, 1, 2000).tolist()})
    by_columns, by_events = _windows(profile), _windows(profile)
    for offset in range(40):  # 40 messages of 300 events, two models, crossing windows
        events = [_ev(model=("a", "b")[i % 2], t=offset * 3_000 + i, x=float(rng.normal()), lat=float(i % 7))
                  for i in range(300)]
        batch = decode_columns(msgspec.json.encode({"events": events}))
        assert batch is not None
        _add(by_columns, batch, offset=offset)
        _add(by_events, events, offset=offset)
    closed = [by_columns.pop_due(wall_ms=0), by_events.pop_due(wall_ms=0)]
    assert len(closed[0]) == 2 and [c.key if hasattr(c, "key") else (c.model_id, c.start_ms) for c in closed[0]] == [
        c.key if hasattr(c, "key") else (c.model_id, c.start_ms) for c in closed[1]]
    for a, b in zip(*closed):
        assert a.state.snapshot() == b.state.snapshot()


def test_a_stalled_partition_is_not_idle_whatever_the_wall_clock():
    """Messages left to read (a sink retrying, a backlog) or no fresh look at the end (a broker
    away): no window closes by wall clock, so nothing still in Kafka turns late."""
    pw = _windows()
    _add(pw, [_ev(t=1_000)], wall=100_000.0)
    pw.confirm_end(50, looked_at_ms=100_000.0)  # 49 messages not read yet
    assert pw.pop_due(wall_ms=10**9) == []
    pw.confirm_end(1, looked_at_ms=101_000.0)  # caught up ...
    pw.confirm_end(1, looked_at_ms=102_000.0)
    assert pw.pop_due(wall_ms=110_000.0) == []  # ... but no look since 102 s: the broker may be away
    for looked_at in (110_000.0, 112_000.0, 114_000.0):  # the broker answers again: the grace starts anew
        pw.confirm_end(1, looked_at_ms=looked_at)
        assert pw.pop_due(wall_ms=looked_at) == []
    pw.confirm_end(1, looked_at_ms=115_000.0)
    assert [c.closed_by for c in pw.pop_due(wall_ms=115_000.0)] == ["idle"]


def test_a_look_started_before_the_last_message_proves_nothing():
    pw = _windows()
    _add(pw, [_ev(t=1_000)], wall=100_000.0)
    pw.confirm_end(1, looked_at_ms=99_000.0)
    assert pw.caught_up_since_ms is None


def test_idleness_starts_again_after_the_broker_was_out_of_sight():
    """Kafka away for 20 s: when it returns, producers still hold what they could not send, so the
    idle grace counts from the broker's return, not from before the outage."""
    pw = _windows()
    _add(pw, [_ev(t=1_000)], wall=100_000.0)
    pw.confirm_end(1, looked_at_ms=100_500.0)  # caught up just before the outage
    pw.lose_sight()  # looks fail for 20 s
    pw.confirm_end(1, looked_at_ms=121_000.0)  # the broker is back, producers not yet
    assert pw.pop_due(wall_ms=121_500.0) == []
    pw.confirm_end(1, looked_at_ms=123_000.0)  # looks with a gap longer than END_FRESH_MS ...
    pw.confirm_end(1, looked_at_ms=127_000.0)  # ... start the run again too
    assert pw.pop_due(wall_ms=127_500.0) == []
    pw.confirm_end(1, looked_at_ms=129_500.0)
    pw.confirm_end(1, looked_at_ms=132_000.0)
    assert [c.closed_by for c in pw.pop_due(wall_ms=132_100.0)] == ["idle"]


def test_an_idle_partition_with_no_window_moves_by_its_siblings_never_by_the_clock():
    pw = PartitionWindows(1_000, 200, 500, lambda m, v: None)
    pw.next_offset = 3
    pw.confirm_end(3, 10_000.0)
    pw.confirm_end(3, 10_600.0)
    assert not pw.has_due(10_600.0)  # a backfill starting later must not be late
    assert pw.has_due(10_600.0, topic_progress_ms=4_000) and pw.pop_due(10_600.0, topic_progress_ms=4_000) == []
    assert pw.closed_until_ms == 4_000  # another partition closed up to there (by idleness, say)


def test_an_idle_partition_follows_the_topic_watermark_instead_of_the_clock():
    pw = PartitionWindows(1_000, 200, 500, lambda m, v: None)
    pw.next_offset = 3
    pw.confirm_end(3, 1_000.0)
    pw.confirm_end(3, 1_600.0)
    assert pw.pop_due(1_600.0, topic_watermark_ms=50_250) == []
    assert pw.closed_until_ms == 50_000  # window_start(50,250 - 200): the others are that far
    busy = PartitionWindows(1_000, 200, 500, lambda m, v: None)
    busy.add([_ev(t=100)], offset=0, wall_ms=1_600.0)  # not idle: only its own watermark counts
    assert not busy.has_due(1_600.0, topic_watermark_ms=50_250)


def test_a_caught_up_partition_follows_only_once_idle_and_the_grace_restarts_after_an_outage():
    pw = PartitionWindows(1_000, 200, 5_000, lambda m, v: None)
    pw.next_offset = 3
    pw.confirm_end(3, 1_000.0)
    assert not pw.has_due(1_000.0, topic_watermark_ms=10_500)  # caught up, not yet for the grace
    pw.confirm_end(3, 3_500.0)
    pw.confirm_end(3, 6_000.0)
    assert pw.has_due(6_000.0, topic_watermark_ms=10_500)
    pw.lose_sight()  # the broker went away
    pw.confirm_end(3, 7_000.0)
    assert not pw.has_due(7_000.0, topic_watermark_ms=10_500)
    pw.confirm_end(3, 9_500.0)
    pw.confirm_end(3, 12_000.0)
    assert pw.pop_due(12_000.0, topic_watermark_ms=10_500) == [] and pw.closed_until_ms == 10_000



def test_an_idle_close_moves_the_bound_to_the_windows_it_closed_not_to_the_clock():
    pw = PartitionWindows(1_000, 200, 500, lambda m, v: None)
    pw.add([_ev(t=100)], offset=0, wall_ms=1.0)
    pw.confirm_end(1, 100_000.0)
    pw.confirm_end(1, 100_600.0)
    (closed,) = pw.pop_due(100_600.0)
    assert closed.closed_by == "idle" and pw.closed_until_ms == 1_000  # not 99,000
    opened, _ = pw.add([_ev(t=5_500)], offset=1, wall_ms=100_700.0)  # a backfill, after a pause
    assert opened == {("m", "1", 5_000)}  # counted in its window, not late
