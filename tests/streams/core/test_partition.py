"""The per-partition delivery core, without Kafka: where a partition resumes, what is dropped
after a seek, what is held until its windows are written; a crash at every offset of seeded
streams over several partitions, resumed from the last saved checkpoint, gives the windows of an
uninterrupted run."""

import numpy as np
import pytest

from schemas.fast_path import WireEvent
from streams.core.checkpoint import PartitionCheckpoint
from streams.core.partition import PartitionProcessor
from streams.core.windowing import PartitionWindows

W = 1_000


def _windows():
    return PartitionWindows(W, 200, 10**12, lambda m, v: None)


def _ev(t, model="a"):
    return WireEvent(event_id="e", model_id=model, prediction=0.0, features={}, timestamp=t, latency_ms=1.0)


def test_a_partition_without_checkpoint_gets_one_before_anything_else():
    processor, start = PartitionProcessor.start(0, _windows(), 17, None)
    assert start.save == PartitionCheckpoint(17, None, 0) and start.seek_to is None
    assert processor.receive(17, [_ev(10)], 0).hold


def test_a_consumer_past_the_replay_base_is_sought_back_and_what_it_read_before_is_dropped():
    processor, start = PartitionProcessor.start(0, _windows(), 58, PartitionCheckpoint(40, None, 0))
    assert start.seek_to == 40
    assert not processor.receive(59, [_ev(10)], 0).applied  # fetched before the seek: comes again
    first = processor.receive(40, [_ev(10)], 0)
    assert first.applied and first.hold and first.lost is None
    for offset in range(41, 58):
        assert processor.receive(offset, [_ev(15)], 0).applied  # now in order
    assert processor.receive(58, [_ev(20)], 0).applied


def test_a_replay_base_gone_from_kafka_is_reported_with_the_lost_offsets():
    processor, start = PartitionProcessor.start(0, _windows(), 58, PartitionCheckpoint(40, None, 0))
    received = processor.receive(50, [_ev(10)], 0)  # retention deleted 40-49
    assert received.applied and received.lost == (40, 49)


def test_a_message_is_held_until_every_window_it_opened_is_written():
    processor, _ = PartitionProcessor.start(0, _windows(), 0, None)
    assert processor.receive(0, [_ev(10, "a"), _ev(10, "b")], 0).hold  # opens two windows
    assert not processor.receive(1, [_ev(20, "a")], 0).hold
    assert processor.receive(2, [_ev(1_100, "a")], 0).hold  # opens a's next window
    closed = processor.windows.pop_due(0)  # watermark 1,100 < end 1,000 + lateness 200: nothing yet
    assert closed == [] and processor.held == {0, 2}
    processor.receive(3, [_ev(1_300, "b")], 0)
    closed = processor.windows.pop_due(0)
    assert {(w.model_id, w.start_ms) for w in closed} == {("a", 0), ("b", 0)}
    assert processor.closed(closed) == (0,)  # both of its windows written
    assert processor.held == {2, 3}


def _stream(rng, n_messages=90):
    t, messages = 0, []
    for _ in range(n_messages):
        t += int(rng.integers(20, 120))
        messages.append([_ev(max(0, t - int(rng.integers(0, 1_500))), str(rng.choice(["a", "b"])))
                         for _ in range(int(rng.integers(1, 4)))])
    return messages


def _run(processor, messages, offsets, written, saved, partition):
    for offset in offsets:
        received = processor.receive(offset, messages[offset], 0)
        if not received.applied:
            continue
        closed = processor.windows.pop_due(0)
        if closed:
            written.update({(partition, w.model_id, w.start_ms): (w.state.count, w.state.late_count) for w in closed})
            saved[partition] = processor.windows.checkpoint()
            processor.closed(closed)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_crash_at_every_offset_of_several_partitions_then_a_resume_gives_uninterrupted_windows(seed):
    rng = np.random.default_rng(seed)
    streams = {p: _stream(rng) for p in range(3)}
    expected: dict = {}
    for p, messages in streams.items():
        processor, _ = PartitionProcessor.start(p, _windows(), 0, None)
        _run(processor, messages, range(len(messages)), expected, {}, p)
    assert sum(late for _, late in expected.values()) > 0, "the streams should exercise late events"
    for crash_at in range(1, 90, 3):
        written: dict = {}
        saved: dict = {}
        consumed: dict = {}
        for p, messages in streams.items():  # the first run, killed after `crash_at` messages
            processor, _ = PartitionProcessor.start(p, _windows(), 0, None)
            _run(processor, messages, range(crash_at), written, saved, p)
            # faust may have committed anything up to what it read: the restart starts there
            consumed[p] = crash_at
        for p, messages in streams.items():  # the restart: the checkpoint decides
            first = min(consumed[p], len(messages) - 1)
            processor, start = PartitionProcessor.start(p, _windows(), first, saved.get(p))
            begin = first if start.seek_to is None else start.seek_to
            if saved.get(p) is None:  # a real first run saves a checkpoint at offset 0
                processor, start = PartitionProcessor.start(p, _windows(), 0, PartitionCheckpoint(0, None, 0))
                begin = 0
            _run(processor, messages, range(begin, len(messages)), written, saved, p)
        assert written == expected, f"crash after {crash_at} messages"


def test_an_empty_partition_is_started_from_its_end_and_gets_a_checkpoint():
    assert PartitionProcessor.start_quiet(0, _windows(), 0, 5, None) is None  # messages of no checkpoint's: wait
    processor, start = PartitionProcessor.start_quiet(0, _windows(), 7, 7, None)
    assert start.save == PartitionCheckpoint(7, None, 0) and start.seek_to is None
    assert processor.windows.next_offset == 7  # so that a look at the end finds it caught up
    assert processor.receive(7, [_ev(10)], 0).hold


def test_a_silent_partition_read_to_its_end_resumes_at_its_checkpoint():
    processor, start = PartitionProcessor.start_quiet(0, _windows(), 0, 30, PartitionCheckpoint(30, 5_000, 4_000))
    assert start.seek_to is None and processor.windows.closed_until_ms == 4_000
    assert not processor.receive(29, [_ev(4_500)], 0).applied  # accounted for before


def test_a_silent_partition_with_open_windows_is_sought_back_and_stragglers_do_not_count_twice():
    processor, start = PartitionProcessor.start_quiet(0, _windows(), 0, 60, PartitionCheckpoint(40, None, 0))
    assert start.seek_to == 40 and start.lost is None
    assert not processor.receive(38, [_ev(10)], 0).applied  # fetched before the seek, accounted for
    assert not processor.receive(45, [_ev(10)], 0).applied  # fetched before the seek, comes again
    assert processor.receive(40, [_ev(10)], 0).applied  # the seek's first
    assert processor.receive(41, [_ev(20)], 0).applied
    assert not processor.receive(40, [_ev(10)], 0).applied  # a second delivery


def test_a_silent_partition_whose_base_is_gone_reports_the_lost_offsets_up_front():
    processor, start = PartitionProcessor.start_quiet(0, _windows(), 50, 60, PartitionCheckpoint(40, None, 0))
    assert start.seek_to == 50 and start.lost == (40, 49)
    assert processor.receive(50, [_ev(10)], 0).applied


def test_a_seek_undone_by_a_repositioned_consumer_is_asked_for_again_and_nothing_is_lost():
    processor, start = PartitionProcessor.start(0, _windows(), 318, PartitionCheckpoint(254, None, 0), low=0)
    assert start.seek_to == 254 and start.lost is None
    assert not processor.receive(319, [_ev(10)], 0).applied  # read ahead before the seek
    again = processor.receive(318, [_ev(10)], 0)  # faust put the consumer back at its committed offset
    assert not again.applied and again.seek_again
    assert not processor.receive(319, [_ev(10)], 0).seek_again  # once per repositioning
    first = processor.receive(254, [_ev(10)], 0)
    assert first.applied and first.lost is None and first.replay_begins


def test_a_base_gone_from_kafka_is_known_up_front_when_the_low_offset_is():
    processor, start = PartitionProcessor.start(0, _windows(), 58, PartitionCheckpoint(40, None, 0), low=50)
    assert start.seek_to == 50 and start.lost == (40, 49)
    assert processor.receive(50, [_ev(10)], 0).applied


def test_a_consumer_that_skips_offsets_is_seen_and_sought_back():
    processor, _ = PartitionProcessor.start(0, _windows(), 426, PartitionCheckpoint(426, None, 0), low=0)
    assert processor.receive(426, [_ev(10)], 0).applied
    jumped = processor.receive(482, [_ev(20)], 0)  # faust moved the consumer forward
    assert not jumped.applied and jumped.gap == (427, 481)
    processor.seek_back(427, 482)
    assert not processor.receive(483, [_ev(20)], 0).applied  # fetched before the seek
    assert processor.receive(427, [_ev(11)], 0).applied
    assert processor.receive(428, [_ev(12)], 0).applied


def test_a_gap_of_transaction_markers_is_accepted():
    processor, _ = PartitionProcessor.start(0, _windows(), 0, None)
    assert processor.receive(0, [_ev(10)], 0).applied
    assert processor.receive(2, [_ev(10)], 0).gap == (1, 1)
    processor.accept_gap(1)
    assert processor.receive(2, [_ev(10)], 0).applied


def test_a_gap_right_after_the_replay_base_loses_nothing_and_says_so():
    # Seen in a fault run: the first two messages from the base applied, then faust moved the
    # consumer past 231-315; the seek back to 231 must not report 229-230 as lost.
    processor, start = PartitionProcessor.start(0, _windows(), 229, PartitionCheckpoint(229, None, 0), low=0)
    assert start.seek_to is None
    assert processor.receive(229, [_ev(10)], 0).applied and processor.receive(230, [_ev(11)], 0).applied
    gap = processor.receive(316, [_ev(12)], 0)
    assert not gap.applied and gap.gap == (231, 315)
    processor.seek_back(231, 316)
    again = processor.receive(231, [_ev(12)], 0)
    assert again.applied and again.lost is None and again.replay_begins
