"""Stage one's part of the label join: what the join keeps of each applied prediction, sent to
its join partition (schemas/join.py) as PendingPredictions, one message per (join partition,
model, version) and batch. Delivered before the checkpoint that covers the events (partition
stage): a replay sends them again, and the join keeps the first copy."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import orjson

from schemas.columnar import EventColumns, RawEvent
from schemas.join import JoinProgress, PendingPredictions, encode_join_message, join_keys
from streams.core.ports import Topic


def _prediction(event) -> tuple[float | None, str | None]:
    """(score, class) of a one-event message's prediction (schemas.fast_path.WireEvent or RawEvent)."""
    if isinstance(event, RawEvent):
        if not math.isnan(event.score):
            return event.score, None
        value = orjson.loads(event.raw).get("prediction")
    else:
        value = event.prediction
    if isinstance(value, str):
        return None, value
    if isinstance(value, bool):
        return float(value), None
    if isinstance(value, dict):
        return (max(value.values()) if value else None), None
    return float(value), None


class PendingFeed:
    """`wanted(model, version)`: whether that model's predictions are kept for labels."""

    def __init__(self, join_topic: Topic, join_partitions: int, window_ms: int,
                 wanted=lambda model, version: True) -> None:
        self.topic = join_topic
        self.partitions = join_partitions
        self.window_ms = window_ms
        self.wanted = wanted

    def messages(self, valid) -> list[tuple[int, bytes]]:
        """(join partition, message) for a message's valid events."""
        if isinstance(valid, EventColumns):
            keep = [g for g, (model, version) in enumerate(valid.groups) if self.wanted(model, version)]
            if not keep:
                return []
            if len(keep) < len(valid.groups):
                valid = valid.take(np.flatnonzero(np.isin(valid.group_codes, keep)))
            return self._columns(valid)
        groups: dict[tuple[str, str], list] = defaultdict(list)
        for event in valid:
            if self.wanted(event.model_id, event.model_version):
                groups[(event.model_id, event.model_version)].append(event)
        out = []
        for (model, version), events in groups.items():
            keys = join_keys(model, [e.event_id for e in events])
            times = np.array([int(e.timestamp) for e in events], dtype=np.int64)
            predictions = [_prediction(e) for e in events]
            scores = np.array([math.nan if s is None else s for s, _ in predictions], dtype=np.float64)
            out.extend(self._split(model, version, keys, times, scores, [c for _, c in predictions]))
        return out

    def _columns(self, c: EventColumns) -> list[tuple[int, bytes]]:
        classes = None
        if c.labels.codes is not None:
            classes = [c.labels.uniques[k] if k >= 0 else None for k in c.labels.codes.tolist()]
        if len(c.groups) == 1:
            model, version = c.groups[0]
            return self._split(model, version, join_keys(model, c.event_ids), c.timestamps, c.scores, classes)
        out = []
        for g, (model, version) in enumerate(c.groups):
            rows = np.flatnonzero(c.group_codes == g)
            ids = [c.event_ids[i] for i in rows.tolist()]
            out.extend(self._split(model, version, join_keys(model, ids), c.timestamps[rows], c.scores[rows],
                                   None if classes is None else [classes[i] for i in rows.tolist()]))
        return out

    def _split(self, model: str, version: str, keys: np.ndarray, times: np.ndarray, scores: np.ndarray,
               classes: list | None) -> list[tuple[int, bytes]]:
        """One (model, version)'s rows into one message per join partition (key mod partitions)."""
        if classes is not None and all(x is None for x in classes):
            classes = None
        parts = (keys % np.uint64(self.partitions)).astype(np.int64)
        out = []
        for j in np.unique(parts).tolist():
            rows = np.flatnonzero(parts == j) if self.partitions > 1 else slice(None)
            message = PendingPredictions.model_construct(
                model_id=model, model_version=version, keys=keys[rows], event_times_ms=times[rows],
                scores=scores[rows], classes=None if classes is None else [classes[i] for i in rows.tolist()])
            out.append((j, encode_join_message(message)))
        return out

    async def progress(self, partition: int, partitions: int, closed_until_ms: int) -> None:
        """A predictions partition's close, to every join partition (its orphan decisions)."""
        value = encode_join_message(JoinProgress(partition=partition, partitions=partitions,
                                                 closed_until_ms=closed_until_ms))
        deliveries = [await self.topic.send(key=None, value=value, partition=j) for j in range(self.partitions)]
        for delivery in deliveries:
            await delivery

    async def send(self, valid) -> list:
        """Send a message's pending predictions; returns their delivery futures."""
        return [await self.topic.send(key=None, value=value, partition=j) for j, value in self.messages(valid)]
