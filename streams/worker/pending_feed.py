"""Stage one's part of the label join: what the join keeps of each applied prediction, sent to
its join partition (schemas/join.py) as PendingPredictions, one message per (join partition,
model, version) and batch. Delivered before the checkpoint that covers the events (partition
stage): a replay sends them again, and the join keeps the first copy."""

from __future__ import annotations

import math
import zlib
from collections import defaultdict

import numpy as np
import orjson

from schemas.columnar import EventColumns, RawEvent
from schemas.join import JoinProgress, PendingPredictions, encode_join_message, join_partition
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
        groups: dict[tuple[int, str, str], list[tuple[str, int, float | None, str | None]]] = defaultdict(list)
        for event in valid:
            if not self.wanted(event.model_id, event.model_version):
                continue
            score, predicted = _prediction(event)
            j = join_partition(event.model_id, event.event_id, self.partitions)
            groups[(j, event.model_id, event.model_version)].append(
                (event.event_id, int(event.timestamp), score, predicted))
        out = []
        for (j, model, version), rows in groups.items():
            times = np.array([r[1] for r in rows], dtype=np.int64)
            out.append((j, self._encode(model, version, [r[0] for r in rows], times, [r[2] for r in rows],
                                        [r[3] for r in rows])))
        return out

    def _columns(self, c: EventColumns) -> list[tuple[int, bytes]]:
        # The join partition of every row at C speed: CRC-32 continued from the model's prefix.
        starts = [zlib.crc32(f"{model}\x1f".encode()) for model, _ in c.groups]
        if len(starts) == 1:
            s0 = starts[0]
            hashes = np.fromiter((zlib.crc32(e.encode(), s0) for e in c.event_ids), np.uint64, len(c))
        else:
            codes = c.group_codes.tolist()
            hashes = np.fromiter((zlib.crc32(e.encode(), starts[g]) for e, g in zip(c.event_ids, codes)),
                                 np.uint64, len(c))
        keys = (hashes % np.uint64(self.partitions)).astype(np.int64) * len(c.groups) + c.group_codes
        order = np.argsort(keys, kind="stable")
        bounds = np.flatnonzero(np.diff(keys[order])) + 1
        out = []
        for rows in np.split(order, bounds):
            key = int(keys[rows[0]])
            j, g = divmod(key, len(c.groups))
            model, version = c.groups[g]
            scores = c.scores[rows]
            classes: list[str | None] = [None] * len(rows)
            if c.labels.codes is not None:
                label_codes = c.labels.codes[rows]
                classes = [c.labels.uniques[k] if k >= 0 else None for k in label_codes.tolist()]
            out.append((j, self._encode(model, version, [c.event_ids[i] for i in rows.tolist()],
                                        c.timestamps[rows], scores.tolist(), classes)))
        return out

    def _encode(self, model: str, version: str, ids: list[str], times: np.ndarray, scores: list,
                classes: list) -> bytes:
        # NaN scores (class predictions) become null in JSON (orjson), i.e. None.
        return encode_join_message(PendingPredictions.model_construct(
            model_id=model, model_version=version, event_ids=ids, event_times_ms=times.tolist(),
            window_starts_ms=(times - times % self.window_ms).tolist(),
            scores=[None if x != x else x for x in scores], classes=classes))

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
