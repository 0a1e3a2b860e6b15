"""Stage one of the worker: each predictions partition's windows, closed and handed on.

Follow one message: app.py has it decoded, batches in a thread ahead of time (read_ahead.py,
decoding.py); `WindowRunner.handle` then routes bad events to the DLQ, adds the good ones to its
partition's windows (windowing.py), and closes due windows. A closed window is not a result yet:
its partial state goes to the partials topic, and stage two (merge_stage.py) merges the partials
of every partition into the final window, written to InfluxDB and judged for alerts.

Delivery (the rules are in partition.py): offsets are committed only past messages whose windows
are all handed on. After each close, in this order: the partials are delivered; the checkpoint
(checkpoint.py) records which windows closed when, so a replay rebuilds exactly these partials;
then the partition's progress goes to every merge partition. Progress after the checkpoint: the
merge never finalises a window on a close a replay could decide differently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from schemas.partials import PartitionProgress, encode_partials_message
from streams.core.checkpoint import PartitionCheckpoint
from streams.core.ports import CheckpointStore, Topic
from streams.core.decoding import Decoded
from streams.worker.metrics import WorkerMetrics
from streams.worker.online_feed import OnlineFeed
from streams.core.partials import ProfileFingerprints, partial_key, partial_of
from streams.core.partition import PartitionProcessor, Received, Start
from streams.kafka.profiles import ProfileStore
from streams.settings import Settings
from streams.core.windowing import ClosedWindow, PartitionWindows

log = logging.getLogger("driftline.worker")
trace = logging.getLogger("driftline.trace")  # settings.trace_delivery

SEEK_RETRY_S = 3.0  # a seek back whose replay has not begun by then is made again
QUIET_START_S = 1.0  # an assigned partition silent this long is started from its end offsets
PROGRESS_KEY = b"progress"


class WindowRunner:
    """Per-partition windows plus the events held un-acked until their windows are handed on."""

    def __init__(self, settings: Settings, profiles: ProfileStore, partials_topic: Topic, dlq_topic: Topic,
                 checkpoints: CheckpointStore,
                 *, predictions_partitions: int, partials_partitions: int):
        self.settings = settings
        self.checkpoints = checkpoints
        self.partials_topic = partials_topic
        self.predictions_partitions = predictions_partitions
        self.partials_partitions = partials_partitions
        self.fingerprints = ProfileFingerprints()
        self.online = OnlineFeed(settings, partials_topic)
        self.profiles = profiles
        self.dlq_topic = dlq_topic
        self.processors: dict[int, PartitionProcessor] = {}  # the delivery logic, per partition
        self.seeks: dict[int, tuple[int, float]] = {}  # partition -> (offset sought, when): until the replay begins
        self.held: dict[tuple[int, int], object] = {}  # (partition, offset) -> faust Event held un-acked
        # One close at a time per partition: a checkpoint must never cover a close still being written.
        self.close_locks: dict[int, asyncio.Lock] = {}
        # Bumped when a partition is revoked: messages read ahead before that are not applied.
        self.epochs: dict[int, int] = {}
        self.stream = None
        self.seek = None  # async (partition, offset): the adapter's consumer seek
        self.end_offsets = None  # EndOffsets: the broker's view of where partitions end
        self.topic_watermark = None  # () -> int | None: other partitions' watermark, from the merge stage
        self.topic_progress = None  # () -> int | None: the furthest other partitions have closed, likewise
        self.assigned: dict[int, float] = {}  # predictions partition -> when assigned (monotonic)
        self.ends: dict[int, tuple[int, int]] = {}  # partition -> (low, end) offsets, as last looked at
        self._starting: set[int] = set()
        self.start_locks: dict[int, asyncio.Lock] = {}  # a first message and a quiet start: one at a time
        self._look: asyncio.Task | None = None
        self.pending = None  # PendingFeed (pending_feed.py) when the label join is on
        self.metrics = WorkerMetrics(settings.metrics_max_models)  # the adapter shares one with the merge stage

    @property
    def partitions(self) -> dict[int, PartitionWindows]:
        return {p: proc.windows for p, proc in self.processors.items()}

    async def _saved_checkpoint(self, partition: int) -> PartitionCheckpoint | None:
        return await self.checkpoints.load(partition)

    def _new_windows(self) -> PartitionWindows:
        s = self.settings
        return PartitionWindows(s.window_ms, s.lateness_ms, s.idle_grace_ms, self.profiles.get)

    async def processor_for(self, partition: int, offset: int) -> tuple[PartitionProcessor, Start]:
        """The partition's processor at its first message since assignment (see partition.py)."""
        async with self.start_locks.setdefault(partition, asyncio.Lock()):
            existing = self.processors.get(partition)
            if existing is not None:  # started quietly while this message waited
                return existing, Start()
            log.info("partition %d: first message at offset %d", partition, offset)
            epoch = self.epochs.get(partition, 0)
            processor, start = PartitionProcessor.start(partition, self._new_windows(), offset,
                                                        await self._saved_checkpoint(partition),
                                                        await self._low(partition))
            await self._started(partition, epoch, processor, start, offset)
            return processor, start

    async def _gap_holds_messages(self, partition: int, first: int, last: int) -> bool:
        if self.end_offsets is None:
            return True
        return await asyncio.to_thread(self.end_offsets.holds_messages, partition, first, last)

    async def _low(self, partition: int) -> int | None:
        """The partition's first offset still in Kafka (None when the broker does not say)."""
        if self.end_offsets is None:
            return None
        try:
            return (await asyncio.to_thread(self.end_offsets.read, [partition]))[partition][0]
        except Exception:  # a failed look: the seek falls back to its inexact rule
            return None

    async def _start_quiet(self, partition: int) -> None:
        """A partition assigned but silent for QUIET_START_S: started from its end offsets, so it
        reports progress (an empty partition must not hold the merge back) and closes by idleness."""
        async with self.start_locks.setdefault(partition, asyncio.Lock()):  # not with a first message
            epoch = self.epochs.get(partition, 0)
            low, end = self.ends[partition]
            saved = await self._saved_checkpoint(partition)
            if partition in self.processors or self.epochs.get(partition, 0) != epoch:
                return  # its first message came meanwhile, or it was revoked
            started = PartitionProcessor.start_quiet(partition, self._new_windows(), low, end, saved)
            if started is None:
                return
            log.info("partition %d: nothing delivered since it was assigned; started from its end offset %d",
                     partition, end)
            await self._started(partition, epoch, *started, end)

    async def _started(self, partition: int, epoch: int, processor: PartitionProcessor, start: Start,
                       offset: int) -> None:
        if start.save is not None:
            await self._save_checkpoint(partition, epoch, start.save)
            log.info("partition %d starts at offset %d (no checkpoint yet; one saved)", partition, offset)
        if start.resumed is not None:
            log.info("partition %d resumes from checkpoint at offset %d (%d saved closes)", partition,
                     start.resumed.base_offset, len(start.resumed.transitions))
        if start.seek_to is not None:
            log.warning("partition %d: the consumer started at offset %d, past the checkpoint's replay base "
                        "%d: seeking back to %d (%d messages read again)", partition, offset, start.seek_to,
                        start.seek_to, offset - start.seek_to)
            await self.seek(partition, start.seek_to)
            self.seeks[partition] = (start.seek_to, time.monotonic())
        if start.lost is not None:
            log.error("partition %d: the checkpoint's replay base %d is no longer in Kafka (retention?): events of "
                      "offsets %d-%d are lost", partition, start.lost[0], *start.lost)
        if self.epochs.get(partition, 0) == epoch:
            self.processors[partition] = processor

    async def _save_checkpoint(self, partition: int, epoch: int, checkpoint: PartitionCheckpoint) -> bool:
        """Saved and delivered before anything it covers is acknowledged. Not by a worker that has
        lost the partition meanwhile: its new owner's checkpoints must not be overwritten."""
        if self.epochs.get(partition, 0) != epoch:
            return False
        await self.checkpoints.save(partition, checkpoint)
        return True

    async def handle(self, event, decoded: Decoded, epoch: int, owns_ref: bool) -> None:
        """Apply one decoded message; `epoch` is its partition's epoch when it arrived.

        Acks: faust acks every message after the agent's step. A message that opens a window is
        held with a reference of ours (`incref`), released once its windows are written. A message
        read ahead already carries our reference (`owns_ref`), released here unless held.
        """
        message = event.message
        partition = message.partition
        if self.epochs.get(partition, 0) != epoch:
            return  # its partition was revoked meanwhile: the new owner replays it (never committed)
        processor = self.processors.get(partition)
        if processor is None:
            processor, start = await self.processor_for(partition, message.offset)
            if start.seek_to is not None:  # read before the seek: it comes again after it
                if owns_ref:
                    await self.stream.ack(event)
                return
        valid = decoded.valid
        received = await self._apply(processor, event, valid)
        if received.gap is not None:
            if await self._gap_holds_messages(partition, *received.gap):
                first, last = received.gap
                log.warning("partition %d: the consumer skipped offsets %d-%d (faust repositioned it); seeking back "
                            "to %d", partition, first, last, first)
                processor.seek_back(first, message.offset)
                await self.seek(partition, first)
                self.seeks[partition] = (first, time.monotonic())
                if owns_ref:
                    await self.stream.ack(event)
                return
            processor.accept_gap(received.gap[1])  # transaction markers: nothing was skipped
            received = await self._apply(processor, event, valid)
        if received.seek_again:
            target = processor.seeking_from
            log.warning("partition %d: the consumer was repositioned to offset %d before the seek back to %d took "
                        "effect (a rebalance or table recovery); seeking again", partition, message.offset, target)
            await self.seek(partition, target)
            self.seeks[partition] = (target, time.monotonic())
        if received.replay_begins:
            self.seeks.pop(partition, None)
            log.info("partition %d: replay from offset %d begins (%d messages read before the seek dropped)",
                     partition, message.offset, received.replay_begins - 1)
        if received.lost is not None:
            log.error("partition %d: the checkpoint's replay base %d is no longer in Kafka (retention?); resuming "
                      "at %d: events of offsets %d-%d are lost", partition, received.lost[0], message.offset,
                      *received.lost)
        self.metrics.messages.inc()
        if received.applied:
            self.metrics.events.inc(len(valid))
            for reject in decoded.rejects:
                await self._dead_letter(event, reject.value, reject.reason)
            if self.pending is not None and len(valid):
                # Queued, not awaited here: the checkpoint waits for them (`_publish`), and until a
                # checkpoint covers these events a crash replays them, sending them again.
                self.pending.send(valid, decoded.pending)
        await self._ack(partition, received.releasable)
        if received.hold:
            self.held[(partition, message.offset)] = event
            if not owns_ref:
                message.incref()
        elif owns_ref:
            await self.stream.ack(event)
        if received.applied and processor.windows.due_by_watermark():  # idle closes are the timer's
            await self.close_due(partition, processor.windows)

    async def _apply(self, processor: PartitionProcessor, event, valid) -> Received:
        message = event.message
        try:
            received = processor.receive(message.offset, valid, time.time() * 1000)
            if received.applied and self.settings.adwin_delta > 0 and len(valid):
                await self.online.observe(message.partition, valid)
            return received
        except Exception as exc:  # one message the windows cannot take: to the DLQ, and go on
            log.error("partition %d offset %d: cannot apply the message (%s: %s); sent to the DLQ",
                      message.partition, message.offset, type(exc).__name__, exc)
            await self._dead_letter(event, message.value or b"", f"unprocessable: {type(exc).__name__}: {exc}")
            return Received(applied=True)

    async def _dead_letter(self, event, value: bytes, reason: str) -> None:
        message = event.message
        self.metrics.dead_letters.labels(reason.split(":", 1)[0]).inc()
        await self.dlq_topic.send(key=event.key, value=value, headers=[
            ("reason", reason.encode()),
            ("source_topic", message.topic.encode()),
            ("source_partition", str(message.partition).encode()),
            ("source_offset", str(message.offset).encode()),
        ])

    def topic_watermark_ms(self) -> int | None:
        """The largest event time seen in any partition: ours, and the others' as their progress
        reports it to this worker's merge stage (`topic_watermark` is set by the adapter)."""
        marks = [pw.watermark_ms for pw in self.partitions.values() if pw.watermark_ms is not None]
        reported = self.topic_watermark() if self.topic_watermark is not None else None
        if reported is not None:
            marks.append(reported)
        return max(marks, default=None)

    def topic_progress_ms(self) -> int | None:
        marks = [pw.closed_until_ms for pw in self.partitions.values()]
        reported = self.topic_progress() if self.topic_progress is not None else None
        if reported is not None:
            marks.append(reported)
        return max(marks, default=None)

    async def close_due(self, partition: int, pw: PartitionWindows) -> None:
        mark, progress = self.topic_watermark_ms(), self.topic_progress_ms()
        if not pw.has_due(time.time() * 1000, mark, progress):  # the common case, checked without the lock
            return
        async with self.close_locks.setdefault(partition, asyncio.Lock()):
            before = pw.closed_until_ms
            closed = pw.pop_due(time.time() * 1000, mark, progress)
            if closed or pw.closed_until_ms != before:
                await self._publish(partition, pw, closed)

    async def _publish(self, partition: int, pw: PartitionWindows, closed: list[ClosedWindow]) -> None:
        """Partials, then the checkpoint, then progress (see the module's docstring); then acks."""
        epoch = self.epochs.get(partition, 0)
        self.metrics.windows_closed.inc(len(closed))
        deliveries = []
        for window in closed:
            partial = partial_of(window, partition, self.fingerprints)
            deliveries.append(await self.partials_topic.send(key=partial_key(window.model_id, window.model_version),
                                                             value=encode_partials_message(partial)))
            trace.info("partition %d sent partial model=%s version=%s start=%d count=%d late=%d first_offset=%d (%s)",
                       partition, window.model_id, window.model_version or "-", window.start_ms, window.state.count,
                       window.state.late_count, window.first_offset, window.closed_by)
        for delivery in deliveries:
            await delivery
        if self.pending is not None:  # the checkpoint covers these events: the join has them
            await self.pending.flush()
        if not await self._save_checkpoint(partition, epoch, pw.checkpoint()):
            return
        progress = encode_partials_message(PartitionProgress(
            partition=partition, partitions=self.predictions_partitions, closed_until_ms=pw.closed_until_ms,
            watermark_ms=pw.watermark_ms))
        trace.info("partition %d sends progress closed_until=%d watermark=%s last_offset=%d", partition,
                   pw.closed_until_ms, pw.watermark_ms, pw.last_offset)
        deliveries = [await self.partials_topic.send(key=PROGRESS_KEY, value=progress, partition=mp)
                      for mp in range(self.partials_partitions)]
        for delivery in deliveries:
            await delivery
        if self.pending is not None:
            await self.pending.progress(partition, self.predictions_partitions, pw.closed_until_ms)
        processor = self.processors.get(partition)
        if processor is not None and self.epochs.get(partition, 0) == epoch:
            await self._ack(partition, processor.closed(closed))

    async def _ack(self, partition: int, offsets: Iterable[int]) -> None:
        for offset in offsets:
            event = self.held.pop((partition, offset), None)
            if event is not None:
                await self.stream.ack(event)

    async def tick(self) -> None:
        self.metrics.beat()
        self._look_at_ends()
        self._measure_lag()
        await self._check_seeks()
        now = time.monotonic()
        for partition, since in list(self.assigned.items()):
            if (partition not in self.processors and partition in self.ends and partition not in self._starting
                    and now - since >= QUIET_START_S):
                self._starting.add(partition)
                try:
                    await self._start_quiet(partition)
                finally:
                    self._starting.discard(partition)
        await self.online.flush_all()
        for partition, pw in list(self.partitions.items()):
            await self.close_due(partition, pw)

    async def _check_seeks(self) -> None:
        """A seek back that has not taken effect after SEEK_RETRY_S is asked for again: seldom, a
        seek made while faust's own rebalance handling repositions the consumer is lost, and the
        partition would wait for its replay for ever."""
        now = time.monotonic()
        for partition, (offset, asked_at) in list(self.seeks.items()):
            if now - asked_at >= SEEK_RETRY_S and partition in self.processors:
                log.warning("partition %d: the seek back to offset %d has not taken effect after %.0f s; seeking again",
                            partition, offset, now - asked_at)
                await self.seek(partition, offset)
                self.seeks[partition] = (offset, now)

    def _measure_lag(self) -> None:
        self.metrics.assigned = set(self.assigned)
        for partition, (_, end) in self.ends.items():
            processor = self.processors.get(partition)
            if processor is not None:
                self.metrics.lag.labels(str(partition)).set(max(0, end - processor.windows.next_offset))

    def _look_at_ends(self) -> None:
        """Confirm, from the broker, which partitions have nothing left to read (see idleness in
        windowing.py). One look at a time, in a thread; a failed look confirms nothing."""
        if self.end_offsets is None:
            return
        if self._look is not None:
            if not self._look.done():
                return
            if self._look.exception() is None:
                looked_at, ends = self._look.result()
                for partition, (low, end) in ends.items():
                    self.ends[partition] = (low, end)
                    pw = self.partitions.get(partition)
                    if pw is not None:
                        pw.confirm_end(end, looked_at)
            else:  # the broker did not answer: no partition is known to be idle now
                for pw in self.partitions.values():
                    pw.lose_sight()
        partitions = sorted(set(self.partitions) | set(self.assigned))
        if partitions:
            looked_at = time.time() * 1000
            self._look = asyncio.ensure_future(asyncio.to_thread(
                lambda: (looked_at, self.end_offsets.read(partitions))))
        else:
            self._look = None

    def assign(self, partitions: Iterable[int]) -> None:
        now = time.monotonic()
        for p in partitions:
            self.assigned.setdefault(p, now)

    def forget(self, partitions: Iterable[int]) -> None:
        """Revoked partitions: drop their state; the new owner replays their open windows."""
        gone = set(partitions)
        for p in gone:
            self.epochs[p] = self.epochs.get(p, 0) + 1
            self.assigned.pop(p, None)
            self.ends.pop(p, None)
            self.processors.pop(p, None)
            self.seeks.pop(p, None)
            self.online.forget(p)
            try:
                self.metrics.lag.remove(str(p))
            except KeyError:
                pass
        self.held = {k: v for k, v in self.held.items() if k[0] not in gone}
