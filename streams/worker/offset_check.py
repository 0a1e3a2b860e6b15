"""The offset guard (streams/core/offset_guard.py) carried out for one faust-consumed topic: the
lookups it needs from the broker, the seeks it asks for, and acks held back until a hole is filled.

faust fills a hole it skipped as "acked" once a later offset is acked, so it would commit past
messages that have not been applied yet: every message dropped while a seek is pending is held
(not acked) until the replay has applied its offset.
"""

from __future__ import annotations

import asyncio
import logging
import time

from streams.core.offset_guard import OffsetGuard, Step
from streams.worker.end_offsets import EndOffsets

log = logging.getLogger("driftline.worker")


class OffsetCheck:
    def __init__(self, topic: str, group: str, ends: EndOffsets, seek, what: str) -> None:
        self.topic, self.group, self.ends = topic, group, ends
        self.seek = seek  # async (partition, offset)
        self.what = what  # how log lines name the partitions ("merge partition")
        self.guard = OffsetGuard()
        self.held: dict[int, list] = {}  # partition -> [(offset, event)] dropped before the hole was filled

    async def admit(self, stream, event) -> bool:
        """Whether to apply the stream's current event (else it was dropped, and comes again)."""
        message = event.message
        partition, offset, now = message.partition, message.offset, time.monotonic()
        if not self.guard.started(partition):
            committed, low = await asyncio.to_thread(self._look, partition)
            verdict = self.guard.start(partition, offset, committed, low, now)
        else:
            verdict = self.guard.receive(partition, offset, now)
        if verdict.step is Step.SEEK:
            low = await asyncio.to_thread(self._low, partition)
            if low is not None and low > verdict.target:
                log.error("%s %d: offsets %d-%d are no longer in Kafka (retention?): skipped", self.what, partition,
                          verdict.target, low - 1)
                self.guard.accept_gap(partition, offset)
                return True
            if not await asyncio.to_thread(self.ends.holds_messages, partition, verdict.target, offset - 1):
                self.guard.accept_gap(partition, offset)  # transaction markers: nothing was skipped
                return True
            log.warning("%s %d: the consumer skipped offsets %d-%d (faust repositioned it); seeking back to %d",
                        self.what, partition, verdict.target, offset - 1, verdict.target)
            await self.seek(partition, verdict.target)
        if verdict.step is Step.APPLY:
            if verdict.replay_begins:
                log.info("%s %d: replay from offset %d begins (%d messages read before the seek dropped)", self.what,
                         partition, offset, verdict.dropped)
            await self._release(stream, partition, offset)
            return True
        if verdict.step is Step.SEEK or self.guard.seeking(partition):
            message.incref()  # faust's own ack after this step leaves it un-acked
            self.held.setdefault(partition, []).append((offset, event))
        return False

    def _look(self, partition: int) -> tuple[int | None, int | None]:
        try:
            committed = self.ends.committed(partition, self.group)
        except Exception:  # the broker did not say: the first message is the start
            committed = None
        return committed, self._low(partition)

    def _low(self, partition: int) -> int | None:
        try:
            return self.ends.read([partition])[partition][0]
        except Exception:
            return None

    async def _release(self, stream, partition: int, applied: int) -> None:
        held = self.held.get(partition)
        if not held:
            return
        keep = []
        for offset, event in held:
            if offset <= applied:
                await stream.ack(event)
            else:
                keep.append((offset, event))
        self.held[partition] = keep

    def forget(self, partitions) -> None:
        self.guard.forget(partitions)
        for p in partitions:
            self.held.pop(p, None)  # never acked: the partition's next owner reads them again
