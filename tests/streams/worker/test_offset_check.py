"""The offset guard's adapter with fakes for faust's stream and the broker: a hole is sought back,
what arrives meanwhile is held un-acked until the replay has applied it, a hole of transaction
markers is accepted."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from streams.worker.offset_check import OffsetCheck


@dataclass
class Message:
    partition: int
    offset: int
    refs: int = 1

    def incref(self) -> None:
        self.refs += 1


@dataclass
class Event:
    message: Message


@dataclass
class Stream:
    acked: list[int] = field(default_factory=list)

    async def ack(self, event) -> None:
        event.message.refs -= 1
        if event.message.refs == 0:
            self.acked.append(event.message.offset)


class Ends:
    def __init__(self, committed: int | None, markers: set[int] = frozenset()) -> None:
        self._committed, self.markers = committed, markers

    def committed(self, partition, group):
        return self._committed

    def read(self, partitions):
        return {p: (0, 1000) for p in partitions}

    def holds_messages(self, partition, first, last):
        return not set(range(first, last + 1)) <= self.markers


def _run(check: OffsetCheck, stream: Stream, offsets: list[int]) -> list[int]:
    applied = []

    async def go():
        for offset in offsets:
            event = Event(Message(0, offset))
            if await check.admit(stream, event):
                applied.append(offset)
            await stream.ack(event)  # faust's own ack after the agent's step

    asyncio.run(go())
    return applied


def test_a_hole_is_filled_and_nothing_past_it_is_acked_before_the_replay_applies_it():
    seeks = []

    async def seek(partition, offset):
        seeks.append((partition, offset))

    check, stream = OffsetCheck("t", "g", Ends(committed=64), seek, "merge partition"), Stream()
    applied = _run(check, stream, [64, 65, 66, 67, 72, 73])  # 68-71 skipped by the consumer
    assert applied == [64, 65, 66, 67] and seeks == [(0, 68)]
    assert stream.acked == [64, 65, 66, 67]  # 72 and 73 held: faust must not commit past 68
    applied += _run(check, stream, [68, 69, 70, 71, 72, 73, 74])
    assert applied == list(range(64, 75))
    assert sorted(stream.acked) == sorted([64, 65, 66, 67, 68, 69, 70, 71, 72, 72, 73, 73, 74])


def test_a_first_message_past_the_committed_offset_seeks_back_and_markers_are_no_hole():
    seeks = []

    async def seek(partition, offset):
        seeks.append(offset)

    check = OffsetCheck("t", "g", Ends(committed=10, markers={12, 13}), seek, "labels partition")
    stream = Stream()
    assert _run(check, stream, [11]) == [] and seeks == [10]
    assert _run(check, stream, [10, 11, 14]) == [10, 11, 14]  # 12-13: transaction markers
    assert seeks == [10]
