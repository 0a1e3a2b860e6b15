"""Labels joined to their predictions: the worker's faust-free join logic (#11).

Per pending prediction the join keeps only what scoring it needs (event time, score or predicted
class, model version; 33 bytes in the column-wise PendingIndex, keyed by the event's 64-bit join
key) for the horizon (DRIFTLINE_LABEL_HORIZON_SECONDS, 7 days by default). Semantics:
- a label meets its prediction: one `Joined` (the lag is label time - prediction time);
- the first label of an event wins; a later one for the same event changes nothing and is
  counted as a duplicate (the event stays marked as labelled until the horizon);
- a label whose prediction is not there yet waits for it until every predictions partition has
  closed its windows past label time + the wait bound (DRIFTLINE_LABEL_WAIT_SECONDS; `settle`),
  then it is an `Orphan` ("unknown"); a label for a prediction that expired is an orphan
  ("past_horizon"); predictions expire `horizon` after the newest one seen (`advance`, by the hour);
- time is event time, passed in: replays decide the same way.
Predictions arrive a message at a time (numpy columns); labels one by one. Waiting labels are a
port (LabelStore), in memory here and in tests.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from schemas.join import join_key
from streams.core.pending_index import PendingIndex


@dataclass(frozen=True)
class PendingPrediction:
    """What the join keeps of a prediction until its label comes."""

    model_version: str
    window_start_ms: int
    event_time_ms: int
    score: float = math.nan  # the positive class's score, or the regressor's number; NaN if none
    predicted: str | None = None  # the predicted class, when the prediction is a label


@dataclass(frozen=True)
class Label:
    """A decoded ground-truth label (schemas.GroundTruth, times in epoch ms)."""

    event_id: str
    model_id: str
    value: object
    time_ms: int
    model_version: str = ""  # as the label says (orphans are counted under it)


@dataclass(frozen=True)
class Joined:
    model_id: str
    prediction: PendingPrediction
    label: Label

    @property
    def lag_ms(self) -> int:
        return self.label.time_ms - self.prediction.event_time_ms


@dataclass(frozen=True)
class Orphan:
    label: Label
    reason: str  # "unknown" (no prediction within the wait bound) or "past_horizon"


@dataclass(frozen=True)
class Duplicate:
    label: Label
    prediction: PendingPrediction | None = None  # the event's prediction, when known


class LabelStore(Protocol):
    """Key-value buckets: a key lives in one bucket; expire() drops whole buckets."""

    def get(self, key: bytes) -> tuple[int, bytes] | None: ...
    def put(self, key: bytes, bucket: int, value: bytes) -> None: ...
    def delete(self, key: bytes) -> None: ...
    def expire(self, below: int) -> Iterator[tuple[bytes, bytes]]: ...


@dataclass
class MemoryLabelStore:
    """LabelStore in a dict (tests, and the bytes-per-entry measurement's baseline)."""

    buckets: dict[int, dict[bytes, bytes]] = field(default_factory=dict)
    where: dict[bytes, int] = field(default_factory=dict)

    def get(self, key: bytes) -> tuple[int, bytes] | None:
        bucket = self.where.get(key)
        return None if bucket is None else (bucket, self.buckets[bucket][key])

    def put(self, key: bytes, bucket: int, value: bytes) -> None:
        self.delete(key)
        self.buckets.setdefault(bucket, {})[key] = value
        self.where[key] = bucket

    def delete(self, key: bytes) -> None:
        bucket = self.where.pop(key, None)
        if bucket is not None:
            del self.buckets[bucket][key]

    def expire(self, below: int) -> Iterator[tuple[bytes, bytes]]:
        for bucket in sorted(b for b in self.buckets if b < below):
            for key, value in self.buckets.pop(bucket).items():
                del self.where[key]
                yield key, value

    def __len__(self) -> int:
        return len(self.where)


def _wait_key(key: int) -> bytes:
    return key.to_bytes(8, "big")


@dataclass
class LabelJoin:
    """The join of one join partition: `index` holds predictions (pending_index.py), `waiting`
    early labels (a LabelStore keyed by the 8-byte join key)."""

    index: PendingIndex
    waiting: LabelStore
    window_ms: int = 60_000
    horizon_ms: int = 7 * 86_400_000
    wait_ms: int = 600_000
    bucket_ms: int = 3_600_000  # predictions expire by the hour: kept for the horizon plus up to an hour
    wait_bucket_ms: int = 10_000  # early labels become orphans at most 10 s past their bound
    watermark_ms: int = -(2**62)  # the newest prediction seen: what the horizon counts from
    # Every predictions partition has closed its windows up to here: no earlier prediction will
    # come, so a label waiting longer than its bound past it is an orphan.
    progress_ms: int = -(2**62)
    waiting_keys: set[int] = field(default_factory=set)  # mirrors `waiting` (checked per prediction batch)
    _pending_below: int = field(default=-(2**62), repr=False)  # buckets below these are expired
    _waiting_below: int = field(default=-(2**62), repr=False)

    def prediction_of(self, row) -> PendingPrediction:
        model_id, version = self.index.groups[int(row["g"])]
        t, c = int(row["t"]), int(row["c"])
        return PendingPrediction(version, t - t % self.window_ms, t, float(row["s"]),
                                 None if c < 0 else self.index.classes[c])

    def add_predictions(self, model_id: str, model_version: str, keys: np.ndarray, times: np.ndarray,
                        scores: np.ndarray, classes: list[str | None] | None = None) -> list[Joined | Duplicate]:
        """Keep one message's predictions (a key already pending is a replay: the first copy
        stands); labels that waited for them are joined now (later ones: duplicates)."""
        codes = (np.full(len(keys), -1, dtype=np.int32) if classes is None
                 else self.index.class_codes(classes))
        early = None
        if self.waiting_keys:
            early = np.fromiter((k in self.waiting_keys for k in keys.tolist()), bool, len(keys))
            early &= ~self.index.contains(keys)
        group = self.index.group_code(model_id, model_version)
        self.index.add(keys, times, scores, codes, group, labelled=early)
        out: list[Joined | Duplicate] = []
        if early is None or not early.any():
            return out
        for i in np.flatnonzero(early).tolist():
            key = int(keys[i])
            found = self.waiting.get(_wait_key(key))
            if found is None:
                continue
            self.waiting.delete(_wait_key(key))
            self.waiting_keys.discard(key)
            t = int(times[i])
            c = int(codes[i])
            prediction = PendingPrediction(model_version, t - t % self.window_ms, t, float(scores[i]),
                                           None if c < 0 else self.index.classes[c])
            labels = _decode_labels(found[1])
            out.append(Joined(model_id, prediction, labels[0]))
            out.extend(Duplicate(extra, prediction) for extra in labels[1:])
        return out

    def add_prediction(self, model_id: str, event_id: str, prediction: PendingPrediction) -> list[Joined | Duplicate]:
        """One prediction (tests, and single events): add_predictions of one."""
        return self.add_predictions(model_id, prediction.model_version,
                                    np.array([join_key(model_id, event_id)], dtype=np.uint64),
                                    np.array([prediction.event_time_ms], dtype=np.int64),
                                    np.array([prediction.score], dtype=np.float64),
                                    None if prediction.predicted is None else [prediction.predicted])

    def add_label(self, label: Label, key: int | None = None) -> list[Joined | Duplicate | Orphan]:
        return self.add_labels([label], None if key is None else np.array([key], dtype=np.uint64))

    def add_labels(self, labels: list[Label], keys: np.ndarray | None = None) -> list[Joined | Duplicate | Orphan]:
        """One message's labels, in order (a second label of an event is its duplicate)."""
        if keys is None:
            keys = np.fromiter((join_key(x.model_id, x.event_id) for x in labels), np.uint64, len(labels))
        rows, before = self.index.take_labels(keys)
        out: list[Joined | Duplicate | Orphan] = []
        for label, key, row, was in zip(labels, keys.tolist(), rows, before.tolist()):
            if row is not None:
                prediction = self.prediction_of(row)
                out.append(Duplicate(label, prediction) if was else Joined(label.model_id, prediction, label))
            elif label.time_ms < self.watermark_ms - self.horizon_ms:  # its prediction, earlier still, expired
                out.append(Orphan(label, "past_horizon"))
            elif label.time_ms + self.wait_ms < self.progress_ms:  # its bound has passed already
                out.append(Orphan(label, "unknown"))
            else:
                waited = self.waiting.get(_wait_key(key))
                raw = (waited[1] if waited else b"") + _encode_label(label)
                self.waiting.put(_wait_key(key), (label.time_ms + self.wait_ms) // self.wait_bucket_ms + 1, raw)
                self.waiting_keys.add(key)
        return out

    def advance(self, watermark_ms: int) -> list[Orphan]:
        """Move the predictions' watermark: expire predictions past the horizon."""
        self.watermark_ms = max(self.watermark_ms, watermark_ms)
        below = (self.watermark_ms - self.horizon_ms) // self.bucket_ms
        if below > self._pending_below:  # a bucket boundary passed: the only time anything expires
            self._pending_below = below
            self.index.expire(below * self.bucket_ms)
        return []

    def settle(self, progress_ms: int) -> list[Orphan]:
        """Every predictions partition has closed up to `progress_ms`: labels that waited past their
        bound become orphans."""
        self.progress_ms = max(self.progress_ms, progress_ms)
        out = []
        below = self.progress_ms // self.wait_bucket_ms
        if below <= self._waiting_below:
            return out
        self._waiting_below = below
        for key, raw in self.waiting.expire(below):
            self.waiting_keys.discard(int.from_bytes(key, "big"))
            out.extend(Orphan(label, "unknown") for label in _decode_labels(raw))
        return out


def _encode_label(label: Label) -> bytes:
    import orjson

    body = orjson.dumps([label.value, label.time_ms, label.model_version, label.event_id, label.model_id])
    return struct.pack("<I", len(body)) + body


def _decode_labels(raw: bytes) -> list[Label]:
    import orjson

    out, at = [], 0
    while at < len(raw):
        (n,) = struct.unpack_from("<I", raw, at)
        value, time_ms, version, event_id, model_id = orjson.loads(raw[at + 4:at + 4 + n])
        out.append(Label(event_id, model_id, value, time_ms, version))
        at += 4 + n
    return out
