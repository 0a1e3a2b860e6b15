"""Labels joined to their predictions: the worker's faust-free join logic (#11).

Per pending prediction the join keeps only what scoring it needs (PendingPrediction: version,
window, event time, score or predicted class; about 30 bytes encoded plus the key) for the
horizon (DRIFTLINE_LABEL_HORIZON_SECONDS, 7 days by default), in a store bucketed by event time
so that expiry drops whole buckets. Semantics:
- a label meets its prediction: one `Joined` (the lag is label time - prediction time);
- the first label of an event wins; a later one for the same event changes nothing and is
  counted as a duplicate (the event stays marked as labelled until the horizon);
- a label whose prediction is not there yet waits for it until every predictions partition has
  closed its windows past label time + the wait bound (DRIFTLINE_LABEL_WAIT_SECONDS; `settle`),
  then it is an `Orphan` ("unknown"); a label for a prediction that expired is an orphan
  ("past_horizon"); predictions expire `horizon` after the newest one seen (`advance`);
- time is event time, passed in: replays decide the same way.
Keys are (model id, event id); the store is a port (LabelStore), in memory here and in tests.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

_FIXED = struct.Struct("<BqqdH")  # flags, window start, event time, score, version length
_LABELLED = 1


@dataclass(frozen=True)
class PendingPrediction:
    """What the join keeps of a prediction until its label comes."""

    model_version: str
    window_start_ms: int
    event_time_ms: int
    score: float = math.nan  # the positive class's score, or the regressor's number; NaN if none
    predicted: str | None = None  # the predicted class, when the prediction is a label
    labelled: bool = False

    def encode(self) -> bytes:
        version = self.model_version.encode()
        predicted = b"" if self.predicted is None else b"\x01" + self.predicted.encode()
        return _FIXED.pack(_LABELLED if self.labelled else 0, self.window_start_ms, self.event_time_ms,
                           self.score, len(version)) + version + predicted

    @classmethod
    def decode(cls, raw: bytes) -> "PendingPrediction":
        flags, window, event_time, score, n = _FIXED.unpack_from(raw)
        rest = raw[_FIXED.size:]
        version, predicted = rest[:n].decode(), rest[n:]
        return cls(version, window, event_time, score, predicted[1:].decode() if predicted else None,
                   bool(flags & _LABELLED))


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


def _key(model_id: str, event_id: str) -> bytes:
    return model_id.encode() + b"\x1f" + event_id.encode()


@dataclass
class LabelJoin:
    """The join of one join partition: `pending` holds predictions, `waiting` early labels."""

    pending: LabelStore
    waiting: LabelStore
    horizon_ms: int = 7 * 86_400_000
    wait_ms: int = 600_000
    bucket_ms: int = 3_600_000  # predictions expire by the hour: kept for the horizon plus up to an hour
    wait_bucket_ms: int = 10_000  # early labels become orphans at most 10 s past their bound
    watermark_ms: int = -(2**62)  # the newest prediction seen: what the horizon counts from
    # Every predictions partition has closed its windows up to here: no earlier prediction will
    # come, so a label waiting longer than its bound past it is an orphan.
    progress_ms: int = -(2**62)
    _pending_below: int = field(default=-(2**62), repr=False)  # buckets below these are expired
    _waiting_below: int = field(default=-(2**62), repr=False)

    def add_prediction(self, model_id: str, event_id: str, prediction: PendingPrediction) -> list[Joined | Duplicate]:
        """Keep a prediction; a label that waited for it is joined now (later ones: duplicates)."""
        key = _key(model_id, event_id)
        if self.pending.get(key) is not None:
            return []  # a replayed prediction: the first copy stands
        found = self.waiting.get(key)
        out: list[Joined | Duplicate] = []
        if found is not None:
            self.waiting.delete(key)
            labels = _decode_labels(found[1], event_id, model_id)
            out.append(Joined(model_id, prediction, labels[0]))
            out.extend(Duplicate(extra, prediction) for extra in labels[1:])
            prediction = PendingPrediction(prediction.model_version, prediction.window_start_ms,
                                           prediction.event_time_ms, labelled=True)
        self.pending.put(key, prediction.event_time_ms // self.bucket_ms, prediction.encode())
        return out

    def add_label(self, label: Label) -> list[Joined | Duplicate | Orphan]:
        key = _key(label.model_id, label.event_id)
        found = self.pending.get(key)
        if found is not None:
            bucket, raw = found
            prediction = PendingPrediction.decode(raw)
            if prediction.labelled:
                return [Duplicate(label, prediction)]
            marker = PendingPrediction(prediction.model_version, prediction.window_start_ms,
                                       prediction.event_time_ms, labelled=True)
            self.pending.put(key, bucket, marker.encode())
            return [Joined(label.model_id, prediction, label)]
        if label.time_ms < self.watermark_ms - self.horizon_ms:  # its prediction, earlier still, expired
            return [Orphan(label, "past_horizon")]
        if label.time_ms + self.wait_ms < self.progress_ms:  # its bound has passed already
            return [Orphan(label, "unknown")]
        waited = self.waiting.get(key)
        raw = (waited[1] if waited else b"") + _encode_label(label)
        self.waiting.put(key, (label.time_ms + self.wait_ms) // self.wait_bucket_ms + 1, raw)
        return []

    def advance(self, watermark_ms: int) -> list[Orphan]:
        """Move the predictions' watermark: expire predictions past the horizon."""
        self.watermark_ms = max(self.watermark_ms, watermark_ms)
        below = (self.watermark_ms - self.horizon_ms) // self.bucket_ms
        if below > self._pending_below:  # a bucket boundary passed: the only time anything expires
            self._pending_below = below
            for _ in self.pending.expire(below):
                pass
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
            model_id, event_id = key.decode().split("\x1f", 1)
            out.extend(Orphan(label, "unknown") for label in _decode_labels(raw, event_id, model_id))
        return out


def _encode_label(label: Label) -> bytes:
    import orjson

    body = orjson.dumps([label.value, label.time_ms, label.model_version])
    return struct.pack("<I", len(body)) + body


def _decode_labels(raw: bytes, event_id: str, model_id: str) -> list[Label]:
    import orjson

    out, at = [], 0
    while at < len(raw):
        (n,) = struct.unpack_from("<I", raw, at)
        value, time_ms, version = orjson.loads(raw[at + 4:at + 4 + n])
        out.append(Label(event_id, model_id, value, time_ms, version))
        at += 4 + n
    return out
