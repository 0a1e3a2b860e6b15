"""The offset guard over seeded deliveries that skip, repeat and undo seeks the way faust's
consumer was seen to: every offset is applied exactly once and in order."""

from __future__ import annotations

import numpy as np
import pytest

from streams.core.offset_guard import OffsetGuard, Step


def test_a_hole_mid_stream_is_sought_back_and_filled_in_order():
    guard = OffsetGuard()
    assert guard.start(2, 64, committed=64, low=0, now=0.0).step is Step.APPLY
    for offset in (65, 66, 67):
        assert guard.receive(2, offset, 0.0).step is Step.APPLY
    seek = guard.receive(2, 72, 0.0)  # 68-71 skipped (seen in a fault run)
    assert (seek.step, seek.target) == (Step.SEEK, 68)
    assert guard.receive(2, 73, 0.1).step is Step.DROP  # fetched before the seek took effect
    begins = guard.receive(2, 68, 0.2)
    assert begins.step is Step.APPLY and begins.replay_begins and begins.dropped == 2
    assert [guard.receive(2, o, 0.2).step for o in (69, 70, 71, 72)] == [Step.APPLY] * 4


def test_a_first_message_past_the_committed_offset_is_a_hole_and_one_before_it_a_repeat():
    guard = OffsetGuard()
    assert guard.start(0, 70, committed=64, low=0, now=0.0).target == 64
    guard2 = OffsetGuard()
    assert guard2.start(0, 60, committed=64, low=0, now=0.0).step is Step.DROP
    assert guard2.receive(0, 64, 0.0).step is Step.APPLY
    guard3 = OffsetGuard()  # no commit yet (a new group): the first message is the start
    assert guard3.start(0, 5, committed=None, low=0, now=0.0).step is Step.APPLY
    guard4 = OffsetGuard()  # committed below what retention kept: from the first kept offset
    assert guard4.start(0, 100, committed=10, low=100, now=0.0).step is Step.APPLY


def test_a_seek_undone_is_asked_again_after_the_retry_time_and_a_hole_without_messages_is_accepted():
    guard = OffsetGuard(retry_s=3.0)
    guard.start(1, 0, committed=0, low=0, now=0.0)
    assert guard.receive(1, 5, 0.0).target == 1
    assert guard.receive(1, 6, 1.0).step is Step.DROP
    again = guard.receive(1, 7, 3.5)
    assert (again.step, again.target) == (Step.SEEK, 1)
    guard.accept_gap(1, 7)  # offsets 1-6 were transaction markers after all
    assert guard.receive(1, 8, 4.0).step is Step.APPLY


@pytest.mark.parametrize("seed", range(20))
def test_seeded_deliveries_with_holes_repeats_and_lost_seeks_apply_every_offset_once_in_order(seed):
    rng = np.random.default_rng(seed)
    end = 300
    guard, applied = OffsetGuard(retry_s=1.0), []
    position, now, committed = int(rng.integers(0, 5)), 0.0, 0
    pending_seek = None
    while len(applied) < end and now < 10_000:
        now += 0.1
        if pending_seek is not None and rng.random() < 0.7:  # the seek takes effect (or is lost)
            position, pending_seek = pending_seek, None
        if position >= end:
            position = len(applied) + int(rng.integers(0, 3))  # faust repositions it somewhere
            continue
        offset = position
        if rng.random() < 0.05:
            position += int(rng.integers(2, 20))  # a hole
        elif rng.random() < 0.03:
            position = max(0, position - int(rng.integers(1, 10)))  # a repeat from further back
        else:
            position += 1
        verdict = (guard.start(0, offset, committed, 0, now) if not guard.started(0)
                   else guard.receive(0, offset, now))
        if verdict.step is Step.APPLY:
            applied.append(offset)
        elif verdict.step is Step.SEEK:
            pending_seek = verdict.target
    assert applied == list(range(end))
