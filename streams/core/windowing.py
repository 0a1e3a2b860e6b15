"""Event-time tumbling windows of one Kafka partition, closed by watermark or by idleness.

Pure Python (no faust) so it can be tested on its own. The watermark is the largest event time
seen in the partition. A window [start, end) closes when the watermark passes end + allowed
lateness, or, when the partition has nothing left to read, when the topic's watermark (the
largest event time any partition has reported, see merge_stage.py) passes end + lateness, or
another partition has closed it (the topic's progress): an idle partition holds no event that
could still be on time, so it follows its busy siblings. An idle partition with
open windows also closes them when the wall clock passes end + lateness + idle grace; one
without moves by its siblings alone, never by the clock, so traffic with old event times (a
backfill) that starts after a quiet spell is not late. Idle means nothing left to read: a fresh
look at the partition's end offset (`confirm_end`) found every message consumed, and has kept
finding it for the idle grace. A worker that merely
stalls (a sink retrying, a broker away, a backlog being replayed) is never idle, so it closes
nothing by wall clock. An event whose window has already closed is late: it is counted in
`late_count` of its model's current window, which is never a closed one.

After a crash, `resume(checkpoint)` replays the saved close decisions (see checkpoint.py), so
the rebuilt windows are exactly those of an uninterrupted run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from detectors.profile import ReferenceProfile
from detectors.window import ModelWindow
from schemas.columnar import EventColumns, RawEvent, concat_columns
from schemas.fast_path import WireEvent
from streams.core.checkpoint import PartitionCheckpoint, Transition
from streams.core.columns import apply_columns, apply_events

FLUSH_EVENTS = 4096
# An end-offset confirmation older than this proves nothing (the broker may be away since).
END_FRESH_MS = 3_000
WindowKey = tuple[str, str, int]  # model_id, model_version, window start (epoch ms)
ProfileLookup = Callable[[str, str], "ReferenceProfile | None"]


@dataclass
class OpenWindow:
    key: WindowKey
    end_ms: int
    state: ModelWindow
    first_offset: int  # offset of the first message that touched this window (replay starts here)
    watermark_before: int | None  # the partition's watermark and closed-until bound just before
    closed_until_before: int  # that first message: the base of a replay starting there
    # Events waiting to be binned: numpy has a fixed cost per call, so single-event messages are
    # binned in blocks. Always flushed before the window is read.
    pending: list[WireEvent | RawEvent] = field(default_factory=list)
    # Batches decoded column-wise wait too, so that numpy's per-call cost (~20 calls per feature)
    # is paid per FLUSH_EVENTS rows, not per message.
    pending_columns: list[EventColumns] = field(default_factory=list)

    def flush(self) -> None:
        if self.pending:
            apply_events(self.state, self.pending)
            self.pending = []
        if self.pending_columns:
            apply_columns(self.state, concat_columns(self.pending_columns))
            self.pending_columns = []

    def add(self, events: Sequence[WireEvent | RawEvent] | EventColumns) -> None:
        if isinstance(events, EventColumns):
            if self.state.prediction_kind == "categorical" and not events.all_labels:
                apply_columns(self.state, events)  # needs its own message again (see columns.py)
                return
            self.pending_columns.append(events)
            if sum(map(len, self.pending_columns)) >= FLUSH_EVENTS:
                self.flush()
            return
        self.pending.extend(events)
        if len(self.pending) >= FLUSH_EVENTS:
            self.flush()


Batch = Sequence[WireEvent] | EventColumns


def group_rows(events: Sequence[WireEvent], size: int) -> dict[WindowKey, list[WireEvent]]:
    """Events by (model, version, window start). Plain Python: numpy's fixed cost per call
    outweighs it for the many one-event messages."""
    groups: dict[WindowKey, list[WireEvent]] = {}
    for event in events:
        t = event.timestamp
        key = (event.model_id, event.model_version, t - t % size)
        members = groups.get(key)
        if members is None:
            groups[key] = [event]
        else:
            members.append(event)
    return groups


def group_columns(batch: EventColumns, size: int) -> dict[WindowKey, EventColumns]:
    """A column-wise batch by (model, version, window start); the common case is one group."""
    starts = batch.timestamps - batch.timestamps % size
    if len(batch.groups) == 1 and (starts == starts[0]).all():
        model_id, version = batch.groups[0]
        return {(model_id, version, int(starts[0])): batch}
    keys, inverse = np.unique(np.stack([batch.group_codes.astype(np.int64), starts]), axis=1, return_inverse=True)
    inverse = inverse.ravel()
    groups = {}
    for k in range(keys.shape[1]):
        model_id, version = batch.groups[int(keys[0, k])]
        groups[(model_id, version, int(keys[1, k]))] = batch.take(np.flatnonzero(inverse == k))
    return groups


@dataclass
class ClosedWindow:
    model_id: str
    model_version: str
    start_ms: int
    end_ms: int
    state: ModelWindow
    first_offset: int
    closed_by: str  # "watermark" or "idle"


@dataclass
class PartitionWindows:
    window_ms: int
    lateness_ms: int
    idle_grace_ms: int
    profiles: ProfileLookup
    watermark_ms: int | None = None
    closed_until_ms: int = 0  # every window ending at or before this is closed
    last_event_wall_ms: float = 0.0
    next_offset: int = 0  # the offset after the last message seen (applied or skipped)
    caught_up_since_ms: float | None = None  # first confirmation, since the last message, that none is left
    end_confirmed_ms: float | None = None  # the latest such confirmation
    last_look_ms: float | None = None  # the latest look that answered (caught up or not)
    sight_back_ms: float | None = None  # the first look that answered after one failed (or a gap)
    sight_lost: bool = False
    windows: dict[WindowKey, OpenWindow] = field(default_factory=dict)
    last_offset: int = -1
    skip_before_offset: int = -1  # replay: these messages were fully accounted before the crash
    transitions: list[Transition] = field(default_factory=list)  # closes since the replay base
    _replay: deque[Transition] = field(default_factory=deque)  # saved closes still to re-apply
    _watermark_before: int | None = None
    _closed_until_before: int = 0

    def resume(self, checkpoint: PartitionCheckpoint) -> None:
        """Continue from a saved checkpoint: the next messages are a replay from its base offset."""
        self.watermark_ms = checkpoint.base_watermark_ms
        self.closed_until_ms = checkpoint.base_closed_until_ms
        self.skip_before_offset = checkpoint.base_offset
        self.last_offset = max(self.last_offset, checkpoint.base_offset - 1)  # all before the base is accounted for
        self.transitions = list(checkpoint.transitions)
        self._replay = deque(checkpoint.transitions)
        self.windows.clear()

    def confirm_end(self, end_offset: int, looked_at_ms: float) -> None:
        """The partition's end offset, as read from the broker by a look started at `looked_at_ms`
        (wall clock). Caught up when every message before it was seen, and none since the look.
        Idleness counts from the first of an unbroken run of such looks: a look that failed (the
        broker away, `lose_sight`) or a gap between looks starts it again, so a worker that comes
        back from an outage waits the idle grace for producers to deliver what they held."""
        if self.sight_lost or (self.last_look_ms is not None and looked_at_ms - self.last_look_ms > END_FRESH_MS):
            self.sight_back_ms, self.sight_lost = looked_at_ms, False
        self.last_look_ms = looked_at_ms
        if end_offset > self.next_offset or looked_at_ms < self.last_event_wall_ms:
            self.caught_up_since_ms = self.end_confirmed_ms = None
            return
        if self.caught_up_since_ms is None or looked_at_ms - self.end_confirmed_ms > END_FRESH_MS:
            self.caught_up_since_ms = looked_at_ms
        self.end_confirmed_ms = looked_at_ms

    def lose_sight(self) -> None:
        """The end offset could not be read: nothing is known to be idle from here on."""
        self.caught_up_since_ms = self.end_confirmed_ms = None
        self.sight_lost = True

    def may_follow(self, wall_ms: float) -> bool:
        """Whether the partition may follow its siblings' watermark and progress: only when idle
        (caught up for the idle grace). Following sooner was tried and lost events: a partition
        seen caught up a moment before the producer's next batch reached it closed windows its
        events were still on the way to (the look and the producer race by up to a look's period,
        and a backfill moves the siblings' watermark by minutes in that time)."""
        return self.idle(wall_ms)

    def idle(self, wall_ms: float) -> bool:
        """Nothing left to read, confirmed freshly, for at least the idle grace (and, after a broker
        outage, the grace since its return)."""
        if self.sight_lost or (self.sight_back_ms is not None and wall_ms - self.sight_back_ms < self.idle_grace_ms):
            return False
        return (self.caught_up_since_ms is not None and wall_ms - self.end_confirmed_ms <= END_FRESH_MS
                and wall_ms - self.caught_up_since_ms >= self.idle_grace_ms)

    @property
    def replaying(self) -> bool:
        return bool(self._replay)

    def checkpoint(self) -> PartitionCheckpoint:
        """What to save after a close so that a crash from here on replays to the same windows."""
        oldest = min(self.windows.values(), key=lambda w: w.first_offset, default=None)
        if oldest is None:
            self.transitions = []
            return PartitionCheckpoint(self.last_offset + 1, self.watermark_ms, self.closed_until_ms)
        self.transitions = [t for t in self.transitions if t.after_offset >= oldest.first_offset]
        return PartitionCheckpoint(oldest.first_offset, oldest.watermark_before, oldest.closed_until_before,
                                   list(self.transitions))

    def window_start(self, t_ms: int) -> int:
        return t_ms - (t_ms % self.window_ms)

    def add(self, events: Batch, *, offset: int, wall_ms: float) -> tuple[set[WindowKey], list[WindowKey]]:
        """Apply one message's events.

        Returns the keys of windows this message opened (their first message) and, during a replay,
        the keys of windows dropped because they had been closed and written before the crash.
        """
        self.last_event_wall_ms = wall_ms
        self.next_offset = max(self.next_offset, offset + 1)
        self.caught_up_since_ms = self.end_confirmed_ms = None
        if offset < self.skip_before_offset:
            return set(), []
        dropped = self._replay_closes(before=offset) if self._replay else []
        self.last_offset = offset
        opened = self._apply_message(events, offset) if events else set()
        if self._replay and self._replay[0].after_offset == offset:
            dropped += self._replay_closes(before=offset + 1)
        return opened, dropped

    def _replay_closes(self, before: int) -> list[WindowKey]:
        dropped: list[WindowKey] = []
        while self._replay and self._replay[0].after_offset < before:
            t = self._replay.popleft()
            if t.watermark_ms is not None and (self.watermark_ms is None or t.watermark_ms > self.watermark_ms):
                self.watermark_ms = t.watermark_ms
            self.closed_until_ms = max(self.closed_until_ms, t.closed_until_ms)
            for key in [k for k, w in self.windows.items() if w.end_ms <= self.closed_until_ms]:
                del self.windows[key]
                dropped.append(key)
        return dropped

    def _apply_message(self, events: Batch, offset: int) -> set[WindowKey]:
        if isinstance(events, EventColumns):
            groups: dict[WindowKey, Batch] = group_columns(events, self.window_ms)
            max_t = int(events.timestamps.max())
        else:
            groups = group_rows(events, self.window_ms)
            max_t = max(e.timestamp for e in events)
        # The watermark moves only after the whole message is applied: a batch is one unit.
        self._watermark_before, self._closed_until_before = self.watermark_ms, self.closed_until_ms
        opened: set[WindowKey] = set()
        for (model_id, version, start), members in groups.items():
            if start + self.window_ms <= self.closed_until_ms:
                target = self._window(model_id, version, self._current_start(), offset, opened)
                target.state.add_late(len(members))
                continue
            self._window(model_id, version, start, offset, opened).add(members)
        if self.watermark_ms is None or max_t > self.watermark_ms:
            self.watermark_ms = max_t
        return opened

    def _current_start(self) -> int:
        current = self.window_start(self.watermark_ms) if self.watermark_ms is not None else 0
        return max(current, self.closed_until_ms)

    def _window(self, model_id: str, version: str, start: int, offset: int, opened: set[WindowKey]) -> OpenWindow:
        key = (model_id, version, start)
        window = self.windows.get(key)
        if window is None:
            profile = self.profiles(model_id, version)
            window = OpenWindow(key, start + self.window_ms, ModelWindow(profile), offset,
                                self._watermark_before, self._closed_until_before)
            self.windows[key] = window
            opened.add(key)
        return window

    def _close_limit(self, wall_ms: float, topic_watermark_ms: int | None = None,
                     topic_progress_ms: int | None = None) -> tuple[int, str] | None:
        """The new closed-until bound and what moved it, or None when nothing new can close.

        The watermark and the siblings (topic watermark, topic progress) move the bound itself;
        the wall clock only closes the open windows it makes due, and the bound moves to their
        end, not to the clock: traffic with older event times that comes after a pause still
        lands in its windows instead of being late."""
        if self._replay:  # replaying: closes come from the saved decisions, at their offsets
            return None
        limit, closed_by = None, "watermark"
        if self.watermark_ms is not None:
            # Largest window end E with E + lateness <= watermark (ends are multiples of the size).
            limit = self.window_start(self.watermark_ms - self.lateness_ms)
        # Also with no window open: the bound is this partition's progress, which the merge stage
        # waits for before it finalises any model's window (merger.py).
        if self.may_follow(wall_ms):
            candidates = []
            if topic_watermark_ms is not None:
                candidates.append(self.window_start(topic_watermark_ms - self.lateness_ms))
            if topic_progress_ms is not None:
                candidates.append(self.window_start(topic_progress_ms))
            if self.windows and self.idle(wall_ms):
                clock = self.window_start(int(wall_ms) - self.lateness_ms - self.idle_grace_ms)
                candidates.append(max((w.end_ms for w in self.windows.values() if w.end_ms <= clock), default=0))
            followed = max(candidates, default=None)
            if followed is not None and (limit is None or followed > limit):
                limit, closed_by = followed, "idle"
        if limit is None or limit <= self.closed_until_ms:
            return None  # every open window ends after closed_until: nothing new can be due
        return limit, closed_by

    def due_by_watermark(self) -> bool:
        """Whether the watermark alone makes a window due (the cheap check after each message)."""
        return (not self._replay and self.watermark_ms is not None
                and self.watermark_ms >= self.closed_until_ms + self.window_ms + self.lateness_ms)

    def has_due(self, wall_ms: float, topic_watermark_ms: int | None = None,
                topic_progress_ms: int | None = None) -> bool:
        """Whether pop_due would close anything or move the bound (cheap; the timer's check)."""
        return self._close_limit(wall_ms, topic_watermark_ms, topic_progress_ms) is not None

    def pop_due(self, wall_ms: float, topic_watermark_ms: int | None = None,
                topic_progress_ms: int | None = None) -> list[ClosedWindow]:
        """Close every window that is due by watermark or, when idle, by wall clock; oldest first.
        The closed-until bound may move with no window to close (see `closed_until_ms`)."""
        found = self._close_limit(wall_ms, topic_watermark_ms, topic_progress_ms)
        if found is None:
            return []
        limit, closed_by = found
        due = sorted((w for w in self.windows.values() if w.end_ms <= limit), key=lambda w: (w.key[2], w.key[:2]))
        for w in due:
            del self.windows[w.key]
            w.flush()
        self.closed_until_ms = max(self.closed_until_ms, limit)
        self.transitions.append(Transition(self.last_offset, self.closed_until_ms, self.watermark_ms))
        return [ClosedWindow(w.key[0], w.key[1], w.key[2], w.end_ms, w.state, w.first_offset, closed_by) for w in due]
