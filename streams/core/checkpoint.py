"""What a partition's windowing must remember across a crash, and nothing more.

Window contents are not saved: they are rebuilt by replaying the partition from the oldest open
window's first message (offsets are never committed past it). What replay cannot rebuild is
which windows had already closed, and when: an event replayed into an already written window
must be skipped, and a late event must be counted where it was counted before. So after every
close the worker saves, per partition:

- base: the replay start offset, with the watermark and closed-until bound just before it;
- transitions: every close since then, as (offset of the last message processed before the close,
  closed-until after it, watermark at that moment).

Replaying with these decisions gives exactly the windows of an uninterrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import orjson


@dataclass(frozen=True)
class Transition:
    after_offset: int
    closed_until_ms: int
    watermark_ms: int | None


@dataclass
class PartitionCheckpoint:
    base_offset: int
    base_watermark_ms: int | None
    base_closed_until_ms: int
    transitions: list[Transition] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        return orjson.dumps({
            "version": 1, "base_offset": self.base_offset, "base_watermark_ms": self.base_watermark_ms,
            "base_closed_until_ms": self.base_closed_until_ms,
            "transitions": [[t.after_offset, t.closed_until_ms, t.watermark_ms] for t in self.transitions],
        })

    @classmethod
    def from_bytes(cls, raw: bytes) -> "PartitionCheckpoint":
        data = orjson.loads(raw)
        if data.get("version") != 1:
            raise ValueError(f"unknown checkpoint version {data.get('version')!r}")
        return cls(int(data["base_offset"]), data["base_watermark_ms"], int(data["base_closed_until_ms"]),
                   [Transition(int(o), int(c), w) for o, c, w in data["transitions"]])


class CheckpointStore(Protocol):
    """Where checkpoints live: the compacted checkpoints topic (`KafkaCheckpoints`), or a dict in tests."""

    async def load(self, partition: int) -> PartitionCheckpoint | None: ...

    async def save(self, partition: int, checkpoint: PartitionCheckpoint) -> None:
        """Returns once the checkpoint is delivered."""


class KafkaCheckpoints:
    def __init__(self, settings, topic) -> None:
        self._settings = settings
        self._topic = topic  # a faust topic on settings.checkpoints_topic

    def _key(self, partition: int) -> bytes:
        return f"{self._settings.predictions_topic}:{partition}".encode()

    async def load(self, partition: int) -> PartitionCheckpoint | None:
        import asyncio

        from streams.kafka.topics import read_compacted

        s = self._settings
        saved = (await asyncio.to_thread(read_compacted, s, s.checkpoints_topic)).get(self._key(partition))
        return None if saved is None else PartitionCheckpoint.from_bytes(saved)

    async def save(self, partition: int, checkpoint: PartitionCheckpoint) -> None:
        delivery = await self._topic.send(key=self._key(partition), value=checkpoint.to_bytes())
        await delivery


class MemoryCheckpoints:
    """A store that keeps what a compacted topic would: the latest checkpoint per partition."""

    def __init__(self) -> None:
        self.saved: dict[int, bytes] = {}

    async def load(self, partition: int) -> PartitionCheckpoint | None:
        raw = self.saved.get(partition)
        return None if raw is None else PartitionCheckpoint.from_bytes(raw)

    async def save(self, partition: int, checkpoint: PartitionCheckpoint) -> None:
        self.saved[partition] = checkpoint.to_bytes()
