"""Every offset of a faust-consumed partition applied once, in order, or sought back to.

faust 0.15 can skip messages around a rebalance: its fetcher records a message as read even when
the flow was suspended before the stream took it (`Consumer._drain_messages`), marks the skipped
offsets as a gap it may commit over, and the stream goes on at the next fetch. On the predictions
topic the checkpoint catches that (partition.py); the agents whose position is faust's committed
offset (the merge stage on the partials topic, the labels router) use this guard: it sees the
hole, says to seek back, and drops what arrives until the first missing offset comes again.

Rules, per partition:
- The first message after assignment is checked against the group's committed offset (the adapter
  looks it up): a first message past it means the messages between were skipped.
- An offset below the next expected one is a second delivery: dropped (its effects are applied).
- One above it is a hole: seek back to the expected offset, unless the adapter finds the hole
  holds no message (transaction markers: `accept_gap`) or lies below what Kafka still keeps.
- While seeking, everything but the target is dropped; a seek undone by faust (messages past the
  target keep coming) is asked for again after `retry_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Step(Enum):
    APPLY = "apply"
    DROP = "drop"
    SEEK = "seek"  # seek to `Verdict.target`, then drop until it arrives


@dataclass(frozen=True)
class Verdict:
    step: Step
    target: int | None = None  # SEEK: where to; the hole is target..offset-1
    replay_begins: bool = False  # APPLY: the first message after a seek back
    dropped: int = 0  # with replay_begins: messages dropped while seeking


@dataclass
class _Partition:
    next: int
    seeking: int | None = None
    asked_at: float = 0.0
    dropped: int = 0


@dataclass
class OffsetGuard:
    retry_s: float = 3.0
    _partitions: dict[int, _Partition] = field(default_factory=dict)

    def started(self, partition: int) -> bool:
        return partition in self._partitions

    def seeking(self, partition: int) -> bool:
        state = self._partitions.get(partition)
        return state is not None and state.seeking is not None

    def start(self, partition: int, offset: int, committed: int | None, low: int | None, now: float) -> Verdict:
        """The first message since assignment, at `offset`; `committed` is the group's committed
        offset (None: none yet, or the look failed), `low` the partition's first offset in Kafka."""
        expected = offset if committed is None else max(committed, low or 0)
        self._partitions[partition] = _Partition(next=expected)
        return self.receive(partition, offset, now)

    def receive(self, partition: int, offset: int, now: float) -> Verdict:
        state = self._partitions[partition]
        if state.seeking is not None:
            if offset != state.seeking:
                state.dropped += 1
                if offset > state.seeking and now - state.asked_at >= self.retry_s:
                    state.asked_at = now
                    return Verdict(Step.SEEK, state.seeking)
                return Verdict(Step.DROP)
            dropped, state.seeking, state.dropped = state.dropped, None, 0
            state.next = offset + 1
            return Verdict(Step.APPLY, replay_begins=True, dropped=dropped)
        if offset < state.next:
            return Verdict(Step.DROP)
        if offset > state.next:
            state.seeking, state.asked_at, state.dropped = state.next, now, 1
            return Verdict(Step.SEEK, state.next)
        state.next = offset + 1
        return Verdict(Step.APPLY)

    def accept_gap(self, partition: int, offset: int) -> None:
        """The hole before `offset` holds no message (or none Kafka still keeps): apply `offset`."""
        state = self._partitions[partition]
        state.seeking, state.dropped, state.next = None, 0, offset + 1

    def forget(self, partitions) -> None:
        for p in partitions:
            self._partitions.pop(p, None)
