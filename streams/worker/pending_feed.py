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


SEND_AT = 4096  # buffered rows of one (join partition, model, version) sent as one message


class PendingFeed:
    """`join_topic`: a JoinProducer (join_producer.py: `send(partition, value)`, async `flush()`);
    `wanted(model, version)`: whether that model's predictions are kept for labels."""

    def __init__(self, join_topic, join_partitions: int, window_ms: int,
                 wanted=lambda model, version: True) -> None:
        self.topic = join_topic
        self.partitions = join_partitions
        self.window_ms = window_ms
        self.wanted = wanted
        self._buffer: dict[tuple[int, str, str], list] = {}  # (join partition, model, version) -> rows
        self._buffered: dict[tuple[int, str, str], int] = {}

    def _rows(self, valid) -> list[tuple]:
        """(join partition, model, version, keys, times, scores, classes) of a message's valid events."""
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

    def _columns(self, c: EventColumns) -> list[tuple]:
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
               classes: list | None) -> list[tuple]:
        """One (model, version)'s rows per join partition (key mod partitions)."""
        if classes is not None and all(x is None for x in classes):
            classes = None
        if self.partitions == 1:
            return [(0, model, version, keys, times, scores, classes)]
        parts = (keys % np.uint64(self.partitions)).astype(np.int64)
        out = []
        for j in np.unique(parts).tolist():
            rows = np.flatnonzero(parts == j)
            out.append((j, model, version, keys[rows], times[rows], scores[rows],
                        None if classes is None else [classes[i] for i in rows.tolist()]))
        return out

    def messages(self, valid) -> list[tuple[int, bytes]]:
        """(join partition, message) for a message's valid events, unbuffered (tests, tools)."""
        return [(j, encode_join_message(PendingPredictions.model_construct(
            model_id=model, model_version=version, keys=keys, event_times_ms=times, scores=scores, classes=classes)))
                for j, model, version, keys, times, scores, classes in self._rows(valid)]

    async def progress(self, partition: int, partitions: int, closed_until_ms: int) -> None:
        """A predictions partition's close, to every join partition (its orphan decisions); after
        the pending predictions it covers (one producer: in order)."""
        self._send_buffered()
        value = encode_join_message(JoinProgress(partition=partition, partitions=partitions,
                                                 closed_until_ms=closed_until_ms))
        for j in range(self.partitions):
            self.topic.send(j, value)
        await self.topic.flush()

    def rows(self, valid) -> list[tuple]:
        """What `send` needs of a message's valid events: computed ahead, in the decode thread."""
        return self._rows(valid)

    def send(self, valid, rows: list[tuple] | None = None) -> None:
        """Buffer a message's pending predictions per (join partition, model, version); a buffer
        of SEND_AT rows goes out as one message. The join's cost is per message (faust's consumer
        step), so 4096 rows a message instead of a predictions message's share of one join
        partition (~125) matters; `flush` sends the rest (before each checkpoint: a crash before
        it replays these events, and sends them again)."""
        for j, model, version, keys, times, scores, classes in (self._rows(valid) if rows is None else rows):
            rows = self._buffer.setdefault((j, model, version), [])
            rows.append((keys, times, scores, classes))
            self._buffered[(j, model, version)] = self._buffered.get((j, model, version), 0) + len(keys)
            if self._buffered[(j, model, version)] >= SEND_AT:
                self._send_group((j, model, version))

    async def flush(self) -> None:
        self._send_buffered()
        await self.topic.flush()

    def _send_buffered(self) -> None:
        for group in list(self._buffer):
            self._send_group(group)

    def _send_group(self, group: tuple[int, str, str]) -> None:
        rows, self._buffered[group] = self._buffer.pop(group), 0
        j, model, version = group
        classes = None
        if any(c is not None for *_, c in rows):
            classes = [x for k, _, _, c in rows for x in (c if c is not None else [None] * len(k))]
        message = PendingPredictions.model_construct(
            model_id=model, model_version=version, keys=np.concatenate([r[0] for r in rows]),
            event_times_ms=np.concatenate([r[1] for r in rows]), scores=np.concatenate([r[2] for r in rows]),
            classes=classes)
        self.topic.send(j, encode_join_message(message))
