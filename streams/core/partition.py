"""One partition's delivery logic, without I/O: where it resumes, which messages are applied,
held or dropped, and which may be acknowledged once their windows are written.

The faust adapter (app.py) feeds it decoded messages and the clock and carries out what it
returns: a seek, a checkpoint to save, acks. So the rules that keep every event counted exactly
once are tested with plain calls (tests/streams/core/test_partition.py), and the real-stack suites
(tests/faults/) prove the wiring.

Rules:
- The checkpoint, not the committed offset, says where the partition resumes (`start`). A
  consumer that starts past its replay base is sought back to it; what arrives before the seek
  takes effect is dropped (it comes again). One that starts before it skips what is accounted for.
  A partition without a checkpoint gets one before anything else.
- A partition that delivers no message at all (empty, or read to its end before a restart) is
  started from its end offsets instead (`start_quiet`), so it reports progress and closes its
  windows by idleness like any other.
- A message at or below the last applied offset is a second delivery (messages fetched before
  a seek took effect): dropped. A message past the next expected offset means the consumer
  skipped some (faust repositions consumers after a rebalance or table recovery, and has been
  seen to move one forward): `Received.gap` says which, and the adapter asks the broker whether
  they hold messages; if so it seeks back (`seek_back`), if not (transaction markers) it accepts
  the gap (`accept_gap`).
- A message that opens a window is held (not acknowledged) until every window it opened is
  written; the others may be acknowledged at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.core.checkpoint import PartitionCheckpoint
from streams.core.windowing import Batch, ClosedWindow, PartitionWindows, WindowKey


@dataclass(frozen=True)
class Start:
    """What to do before the first message is applied."""

    save: PartitionCheckpoint | None = None  # a first checkpoint, to be delivered before anything else
    seek_to: int | None = None  # the consumer started past the replay base: seek back to it (the
    # first message, read before the seek, is then not applied: it comes again after it)
    resumed: PartitionCheckpoint | None = None  # the checkpoint the partition resumes from
    lost: tuple[int, int] | None = None  # offsets no longer in Kafka (retention), first and last


@dataclass(frozen=True)
class Received:
    applied: bool  # False: dropped (fetched before a seek) or skipped (accounted before a crash)
    hold: bool = False  # the message opened windows: acknowledge it only when `releasable` says so
    releasable: tuple[int, ...] = ()  # offsets of held messages that may be acknowledged now
    lost: tuple[int, int] | None = None  # offsets no longer in Kafka (retention), first and last
    replay_begins: int = 0  # the first message after a seek: 1 + messages dropped before it
    seek_again: bool = False  # the consumer was repositioned before the seek's target came: seek again
    gap: tuple[int, int] | None = None  # offsets skipped before this message (not applied): first, last


@dataclass
class PartitionProcessor:
    partition: int
    windows: PartitionWindows
    seeking_from: int | None = None  # offset first seen when a seek back was asked for
    seek_exact: bool = False  # only a message at `seeking_from` itself begins the replay
    _reset_mark: int = -1  # seeking: a message at or below this means the consumer was repositioned
    _dropped: int = 0
    _held_by: dict[WindowKey, int] = field(default_factory=dict)  # open window -> offset it holds
    _refs: dict[int, int] = field(default_factory=dict)  # held offset -> open windows holding it

    @classmethod
    def start(cls, partition: int, windows: PartitionWindows, first_offset: int,
              saved: PartitionCheckpoint | None, low: int | None = None) -> tuple["PartitionProcessor", Start]:
        """`low`: the partition's first offset still in Kafka, when known. With it the seek is
        exact: only the message at its target begins the replay, whatever the consumer delivers
        meanwhile (faust repositions a consumer to the committed offset after a rebalance or a
        table recovery, which can undo a seek: `Received.seek_again` then says to seek again)."""
        processor = cls(partition, windows)
        if saved is None:
            windows.skip_before_offset = first_offset
            windows.last_offset = first_offset - 1
            return processor, Start(save=PartitionCheckpoint(first_offset, None, 0))
        windows.resume(saved)
        if saved.base_offset >= first_offset:
            return processor, Start(resumed=saved)
        if low is None:  # without it, the first message at or below the one seen begins the replay
            processor.seeking_from = first_offset
            return processor, Start(seek_to=saved.base_offset, resumed=saved)
        lost = processor._seek_exactly(saved, low, first_offset)
        return processor, Start(seek_to=processor.seeking_from, resumed=saved, lost=lost)

    def _seek_exactly(self, saved: PartitionCheckpoint, low: int, reset_mark: int) -> tuple[int, int] | None:
        target = max(saved.base_offset, low)
        self.seeking_from, self.seek_exact, self._reset_mark = target, True, reset_mark
        if target == saved.base_offset:
            return None
        self.windows.skip_before_offset = target
        return saved.base_offset, target - 1

    @classmethod
    def start_quiet(cls, partition: int, windows: PartitionWindows, low: int, end: int,
                    saved: PartitionCheckpoint | None) -> tuple["PartitionProcessor", Start] | None:
        """Start a partition that has delivered nothing since it was assigned, from the broker's
        `low` and `end` offsets; None when that cannot be done safely (wait for its messages).

        Safe cases: a checkpoint whose base is the end (everything is accounted for); a checkpoint
        behind the end (windows were open when the last owner stopped and the consumer resumes
        past them): seek back to the base, dropping whatever comes before it; no checkpoint and
        an empty partition.
        """
        if saved is None:
            if low != end:
                return None  # messages of no checkpoint's: they arrive and start it the usual way
            processor, start = cls.start(partition, windows, end, None)
            windows.next_offset = end
            return processor, start
        if saved.base_offset >= end:
            processor, start = cls.start(partition, windows, end, saved)
            windows.next_offset = end
            return processor, start
        processor = cls(partition, windows)
        windows.resume(saved)
        # Messages fetched before the seek have offsets up to `end`: all dropped until the seek's
        # target arrives (or a straggler at it: its second delivery is then dropped).
        lost = processor._seek_exactly(saved, low, end)
        return processor, Start(seek_to=processor.seeking_from, resumed=saved, lost=lost)

    def seek_back(self, target: int, seen: int) -> None:
        """After a gap that holds messages: only `target` begins the replay again."""
        self.seeking_from, self.seek_exact, self._reset_mark, self._dropped = target, True, seen, 0

    def accept_gap(self, last: int) -> None:
        """A gap without messages (transaction markers): the next message follows it."""
        self.windows.last_offset = max(self.windows.last_offset, last)

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._refs)

    def receive(self, offset: int, events: Batch, wall_ms: float) -> Received:
        """One message's valid events (possibly none). Raises what the windows raise; the message
        then holds nothing (the adapter sends it to the DLQ)."""
        lost, begins = None, 0
        if self.seeking_from is not None:
            if offset > self.seeking_from or (self.seek_exact and offset < self.seeking_from):
                # fetched before the seek took effect: it comes again (or was accounted for)
                self._dropped += 1
                again = self.seek_exact and self.seeking_from < offset <= self._reset_mark
                if again:
                    self._reset_mark = offset - 1  # once per repositioning
                return Received(applied=False, seek_again=again)
            self.seeking_from = None
            begins = self._dropped + 1
            # Lost: offsets between what the partition still needed and where the replay begins
            # (after a gap's seek back, what was applied before the gap is not needed again).
            needed = max(self.windows.skip_before_offset, self.windows.last_offset + 1)
            if offset > needed:
                lost = (needed, offset - 1)
        if offset < self.windows.skip_before_offset or offset <= self.windows.last_offset:
            self.windows.next_offset = max(self.windows.next_offset, offset + 1)
            return Received(applied=False, replay_begins=begins)
        expected = max(self.windows.last_offset, self.windows.skip_before_offset - 1) + 1
        if offset > expected and not begins:
            return Received(applied=False, gap=(expected, offset - 1))
        opened, dropped = self.windows.add(events, offset=offset, wall_ms=wall_ms)
        releasable = self._release(dropped)
        if opened:
            self._refs[offset] = len(opened)
            for key in opened:
                self._held_by[key] = offset
        return Received(applied=True, hold=bool(opened), releasable=releasable, lost=lost, replay_begins=begins)

    def closed(self, windows: Iterable[ClosedWindow]) -> tuple[int, ...]:
        """Windows written (and the checkpoint saved): the held offsets that may be acknowledged."""
        return self._release((w.model_id, w.model_version, w.start_ms) for w in windows)

    def _release(self, keys: Iterable[WindowKey]) -> tuple[int, ...]:
        free = []
        for key in keys:
            offset = self._held_by.pop(key, None)
            if offset is None:
                continue
            self._refs[offset] -= 1
            if self._refs[offset] == 0:
                del self._refs[offset]
                free.append(offset)
        return tuple(free)
