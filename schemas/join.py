"""Messages of the worker group's internal `<app_id>.join` topic, partitioned by the hash of
(model id, event id) so that a prediction and its label meet in one join partition, however the
predictions and the labels topics are keyed.

- `PendingPredictions`: what the join keeps of a batch of predictions (stage one sends them as it
  reads predictions), column-wise, in a binary frame (raw little-endian arrays);
- `RoutedLabels`: labels from `<prefix>.labels`, with where they came from (partition, offset),
  so that a label the router sent twice after a crash is recognised as the same label;
- `JoinProgress`: how far a predictions partition has closed its windows (orphan decisions).
Versioned like every wire message (a rolling upgrade may mix releases).
"""

from __future__ import annotations

import math
import struct
from typing import Annotated, Literal, Union

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from xxhash import xxh3_64_intdigest

from schemas.labels import LabelValue


def join_key(model_id: str, event_id: str) -> int:
    """The join's 64-bit key of an event: XXH3-64 (seed 0) of model id, 0x1f, event id (UTF-8).
    Stable across processes, releases and languages (xxHash has implementations in most).

    >>> join_key("fraud", "e1")
    6956956074336717080
    """
    return xxh3_64_intdigest(f"{model_id}\x1f{event_id}".encode())


def join_keys(model_id: str, event_ids: list[str]) -> np.ndarray:
    """join_key of each event of one model, as uint64 (about 80 ns an event)."""
    prefix = f"{model_id}\x1f"
    return np.fromiter((xxh3_64_intdigest((prefix + e).encode()) for e in event_ids), np.uint64, len(event_ids))


def join_partition(model_id: str, event_id: str, partitions: int) -> int:
    """The join partition of an event: its join key modulo the partitions.

    >>> join_partition("fraud", "e1", 8)
    0
    """
    return join_key(model_id, event_id) % partitions


class PendingPredictions(BaseModel):
    """What the join keeps of one message's predictions of one (model, version) in one join
    partition, column-wise; sent in a binary frame (`encode_join_message`), numbers as raw arrays."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    kind: Literal["pending"] = "pending"
    schema_version: Literal[2] = 2
    model_id: str
    model_version: str
    keys: np.ndarray  # uint64 join keys (join_key)
    event_times_ms: np.ndarray  # int64
    scores: np.ndarray  # float64: the positive class's score or the predicted number; NaN: a class
    classes: list[str | None] | None = None  # the predicted class per event, when any is a class

    @model_validator(mode="after")
    def _columns(self) -> "PendingPredictions":
        n = len(self.keys)
        for name, dtype in (("keys", np.uint64), ("event_times_ms", np.int64), ("scores", np.float64)):
            column = getattr(self, name)
            if not isinstance(column, np.ndarray) or column.dtype != dtype or column.ndim != 1 or len(column) != n:
                raise ValueError(f"{name}: {n} values of {np.dtype(dtype).name} wanted")
        if self.classes is not None and len(self.classes) != n:
            raise ValueError(f"classes: {n} values wanted")
        return self

    @classmethod
    def of(cls, model_id: str, model_version: str, event_ids: list[str], event_times_ms, scores,
           classes: list[str | None] | None = None) -> "PendingPredictions":
        """From event ids and plain lists (None scores are classes)."""
        values = np.array([math.nan if x is None else x for x in scores], dtype=np.float64)
        return cls(model_id=model_id, model_version=model_version, keys=join_keys(model_id, list(event_ids)),
                   event_times_ms=np.asarray(event_times_ms, dtype=np.int64), scores=values,
                   classes=None if classes is None or all(c is None for c in classes) else list(classes))


class RoutedLabel(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    model_id: str
    model_version: str = ""
    label: LabelValue
    time_ms: int


class RoutedLabels(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["labels"] = "labels"
    schema_version: Literal[1] = 1
    source_partition: int  # of the labels topic
    source_offset: int
    labels: list[RoutedLabel]


class JoinProgress(BaseModel):
    """A predictions partition has closed its windows up to `closed_until_ms`: no more prediction
    before it will come from there (a later one is late). Sent to every join partition at each
    close, also by partitions without events; the join's orphan decisions wait for all of them."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["progress"] = "progress"
    schema_version: Literal[1] = 1
    partition: int  # of the predictions topic
    partitions: int  # how many the predictions topic has, as the sender sees it
    closed_until_ms: int


JoinMessage = Annotated[Union[RoutedLabels, JoinProgress], Field(discriminator="kind")]
_ADAPTER = TypeAdapter(JoinMessage)
_FRAME = b"P"  # a binary PendingPredictions frame: P, header length (u32 LE), JSON header, arrays
_HEADER = struct.Struct("<I")


def encode_join_message(message: PendingPredictions | RoutedLabels | JoinProgress) -> bytes:
    if not isinstance(message, PendingPredictions):
        return orjson.dumps(message.model_dump())
    header = orjson.dumps({"schema_version": message.schema_version, "model_id": message.model_id,
                           "model_version": message.model_version, "n": len(message.keys),
                           "classes": message.classes})
    return b"".join((_FRAME, _HEADER.pack(len(header)), header, message.keys.tobytes(),
                     message.event_times_ms.tobytes(), message.scores.tobytes()))


def decode_join_message(raw: bytes) -> PendingPredictions | RoutedLabels | JoinProgress:
    """Raises pydantic's ValidationError or orjson's JSONDecodeError (both ValueError)."""
    if raw[:1] != _FRAME:
        return _ADAPTER.validate_python(orjson.loads(raw))
    if len(raw) < 1 + _HEADER.size:
        raise ValueError("pending predictions frame: truncated")
    (size,) = _HEADER.unpack_from(raw, 1)
    at = 1 + _HEADER.size + size
    header = orjson.loads(raw[1 + _HEADER.size:at])
    n = int(header.get("n", -1))
    if n < 0 or len(raw) != at + 24 * n:
        raise ValueError(f"pending predictions frame: {len(raw) - at} bytes of arrays for {n} events")
    keys = np.frombuffer(raw, np.uint64, n, at)
    times = np.frombuffer(raw, np.int64, n, at + 8 * n)
    scores = np.frombuffer(raw, np.float64, n, at + 16 * n)
    return PendingPredictions(model_id=header.get("model_id"), model_version=header.get("model_version"),
                              keys=keys, event_times_ms=times, scores=scores, classes=header.get("classes"),
                              schema_version=header.get("schema_version"))
