"""ADWIN on each partition's events (OnlineWatch, streams/core/online.py); detections go at once to
the merge stage, which publishes one alert per change (merge_stage.py)."""

from __future__ import annotations

import math

from schemas import DriftAlert
from schemas.columnar import EventColumns
from schemas.partials import OnlineChange, encode_partials_message
from streams.core.online import OnlineWatch
from streams.core.partials import partial_key
from streams.core.ports import Topic
from streams.settings import Settings

ONLINE_GROUP = 64  # one-event messages are fed to ADWIN in groups of this many (or at each tick)


class OnlineFeed:
    def __init__(self, settings: Settings, partials_topic: Topic) -> None:
        self.settings = settings
        self.partials_topic = partials_topic
        self.watches: dict[int, OnlineWatch] = {}
        self.waiting: dict[int, list] = {}  # one-event messages' events not yet fed to ADWIN

    async def observe(self, partition: int, valid) -> None:
        """ADWIN on a message's events. One-event messages are fed in groups (ONLINE_GROUP, or at
        the next tick): per event, river's call costs more than the detection itself."""
        if isinstance(valid, EventColumns):
            await self.flush(partition)  # ADWIN sees events in partition order
            await self._detect(partition, valid)
            return
        waiting = self.waiting.setdefault(partition, [])
        waiting.extend(valid)
        if len(waiting) >= ONLINE_GROUP:
            await self.flush(partition)

    async def flush(self, partition: int) -> None:
        waiting = self.waiting.get(partition)
        if waiting:
            self.waiting[partition] = []
            await self._detect(partition, waiting)

    async def flush_all(self) -> None:
        for partition in [p for p, waiting in self.waiting.items() if waiting]:
            await self.flush(partition)

    def forget(self, partition: int) -> None:
        self.watches.pop(partition, None)
        self.waiting.pop(partition, None)

    async def _detect(self, partition: int, batch) -> None:
        """Each detection is keyed to the window of the detecting event."""
        watch = self.watches.get(partition)
        if watch is None:
            watch = self.watches[partition] = OnlineWatch(self.settings.adwin_delta)
        size = self.settings.window_ms
        for d in watch.observe(batch):
            start = d.timestamp - d.timestamp % size
            alert = DriftAlert.for_window(
                model_id=d.model_id, model_version=d.model_version, window_start=start,
                window_end=start + size, feature=d.stream, statistic="adwin", value=d.estimation,
                threshold=d.delta, major_threshold=math.inf)
            change = OnlineChange(partition=partition, event_id=str(d.event_id), alert=alert)
            await self.partials_topic.send(key=partial_key(d.model_id, d.model_version),
                                           value=encode_partials_message(change))
