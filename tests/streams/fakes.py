"""In-memory stand-ins for the worker's ports (topics, stream acks, the sink, the merge table) and a
crashable two-stage worker over them: the delivery logic of partition_stage.py and merge_stage.py
runs unchanged, with Kafka's durable parts (topic logs, checkpoints, the table's changelog) kept
across a simulated kill -9 and everything else lost."""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field

from streams.core.checkpoint import MemoryCheckpoints
from streams.core.decoding import Decoded
from streams.worker.merge_stage import MergeRunner
from streams.worker.partition_stage import WindowRunner


def _delivered():
    future = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


class FakeTopic:
    """A topic's log per partition; `send` is faust's (await it for the delivery, await that)."""

    def __init__(self, partitions: int = 1) -> None:
        self.log: dict[int, list[tuple[bytes | None, bytes]]] = {p: [] for p in range(partitions)}

    async def send(self, key=None, value=None, partition=None, headers=None):
        if partition is None:
            partition = zlib.crc32(key or b"") % len(self.log)
        self.log[partition].append((key, value))
        return _delivered()


@dataclass
class FakeMessage:
    topic: str
    partition: int
    offset: int
    value: bytes | None = None

    def incref(self) -> None:
        pass


@dataclass
class FakeEvent:
    message: FakeMessage
    key: bytes | None = None


@dataclass
class FakeStream:
    acked: set[tuple[int, int]] = field(default_factory=set)

    async def ack(self, event) -> None:
        self.acked.add((event.message.partition, event.message.offset))


class FakeSink:
    """InfluxDB's behaviour that matters here: a point per (model, version, window) and a rewrite
    overwrites. Every write is kept, to check that rewrites are identical."""

    def __init__(self) -> None:
        self.points: dict[tuple[str, str, int], dict] = {}
        self.writes: list[tuple[tuple[str, str, int], dict]] = []
        self.performance: dict[tuple[str, str, int], dict] = {}

    async def write(self, findings) -> None:
        for found in findings:
            w, snap = found.window, found.snapshot
            value = {"count": snap["count"], "late_count": snap["late_count"],
                     "features": {f: {k: v for k, v in s.items() if not isinstance(v, list)}
                                  for f, s in snap["features"].items()},
                     "latency": {k: v for k, v in snap.items() if k.startswith("latency")}}
            key = (w.model_id, w.model_version, w.start_ms)
            self.points[key] = value
            self.writes.append((key, value))

    async def write_performance(self, rows) -> None:
        for model, version, start, fields in rows:
            self.performance[(model, version, start)] = fields


class Profiles:
    def __init__(self, by_model: dict) -> None:
        self.by_model = by_model

    def get(self, model_id: str, model_version: str = ""):
        return self.by_model.get(model_id)


@dataclass
class Durable:
    """What survives a kill -9: Kafka's topics and the committed offsets."""

    predictions: dict[int, list[list]]  # partition -> messages (lists of events)
    partials_partitions: int
    partials: FakeTopic = None
    alerts: FakeTopic = field(default_factory=FakeTopic)
    dlq: FakeTopic = field(default_factory=FakeTopic)
    checkpoints: MemoryCheckpoints = field(default_factory=MemoryCheckpoints)
    table: dict = field(default_factory=dict)  # the merge table as its changelog holds it
    sink: FakeSink = field(default_factory=FakeSink)
    committed: dict[int, int] = field(default_factory=dict)  # predictions partition -> offset
    merge_committed: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.partials = self.partials or FakeTopic(self.partials_partitions)


class SimulatedWorker:
    """A worker, driven message by message; it owns every partition of both topics unless
    `merge_partitions` says which partials partitions it reads (the test routes predictions)."""

    def __init__(self, settings, profiles, durable: Durable, merge_partitions=None) -> None:
        self.d = durable
        self.merge_partitions = set(durable.partials.log if merge_partitions is None else merge_partitions)
        self.runner = WindowRunner(settings, profiles, durable.partials, durable.dlq, durable.checkpoints,
                                   predictions_partitions=len(durable.predictions),
                                   partials_partitions=durable.partials_partitions)
        self.merge = MergeRunner(settings, len(durable.predictions), durable.sink, durable.alerts, durable.table)
        self.merge._reload_alerts = False  # no alerts topic to read: the fake's ids are loaded below
        for _, value in durable.alerts.log[0]:
            import orjson

            alert = orjson.loads(value)
            self.merge.sent_alerts.add(alert["alert_id"], alert["window_end_ms"])
        self.runner.topic_watermark = lambda: self.merge.topic_watermark_ms
        self.runner.topic_progress = lambda: self.merge.topic_progress_ms
        self.stream = self.runner.stream = FakeStream()
        self.runner.seek = self._seek
        self.position = dict(durable.committed)
        self.merge_position = dict(durable.merge_committed)
        self.merge_processed = dict(durable.merge_committed)

    async def _seek(self, partition: int, offset: int) -> None:
        self.position[partition] = offset

    def pending(self, partition: int) -> bool:
        return self.position.get(partition, 0) < len(self.d.predictions[partition])

    async def step(self, partition: int) -> None:
        """Deliver the partition's next message, then let the merge stage read what is new."""
        offset = self.position.get(partition, 0)
        self.position[partition] = offset + 1
        events = self.d.predictions[partition][offset]
        event = FakeEvent(FakeMessage("p", partition, offset, b"x"))
        await self.runner.handle(event, Decoded(events=list(events)), self.runner.epochs.get(partition, 0), False)
        if (partition, offset) not in self.runner.held:
            self.stream.acked.add((partition, offset))  # faust acks a message after the agent's step
        await self.drain_merge()

    async def drain_merge(self) -> None:
        for mp, log in self.d.partials.log.items():
            if mp not in self.merge_partitions:
                continue
            while self.merge_position.get(mp, 0) < len(log):
                offset = self.merge_position.get(mp, 0)
                await self.merge.handle(mp, log[offset][1])
                self.merge_position[mp] = offset + 1

    async def tick(self) -> None:
        await self.runner.tick()
        await self.drain_merge()

    def committed(self, partition: int) -> int:
        """faust's committed offset: past every acknowledged message up to the first that is not."""
        offset = self.d.committed.get(partition, 0)
        while offset < self.position.get(partition, 0) and (partition, offset) in self.stream.acked:
            offset += 1
        return offset

    def revoke(self, partitions, merge_partitions) -> None:
        """A rebalance takes partitions away: faust commits what was acknowledged, the worker
        forgets them (its in-memory windows are lost to the new owner, who replays them)."""
        for partition in partitions:
            self.d.committed[partition] = self.committed(partition)
        for mp in merge_partitions:
            self.d.merge_committed[mp] = self.merge_position.get(mp, 0)
        self.runner.forget(set(partitions))
        self.merge.forget(set(merge_partitions))
        self.merge_partitions -= set(merge_partitions)

    def kill(self, merge_lag: dict[int, int]) -> None:
        """kill -9: commit what faust would have, lose everything in memory."""
        for partition in self.d.predictions:
            self.d.committed[partition] = self.committed(partition)
        for mp in self.d.partials.log:
            self.d.merge_committed[mp] = max(self.d.merge_committed.get(mp, 0),
                                             self.merge_position.get(mp, 0) - merge_lag.get(mp, 0))
