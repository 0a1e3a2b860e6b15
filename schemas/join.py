"""Messages of the worker group's internal `<app_id>.join` topic, partitioned by the hash of
(model id, event id) so that a prediction and its label meet in one join partition, however the
predictions and the labels topics are keyed.

- `PendingPredictions`: what the join keeps of a batch of predictions (stage one sends them as it
  reads predictions), column-wise;
- `RoutedLabels`: labels from `<prefix>.labels`, with where they came from (partition, offset),
  so that a label the router sent twice after a crash is recognised as the same label;
- `JoinProgress`: how far a predictions partition has closed its windows (orphan decisions).
Versioned like every wire message (a rolling upgrade may mix releases).
"""

from __future__ import annotations

import zlib
from typing import Annotated, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.labels import LabelValue


def join_partition(model_id: str, event_id: str, partitions: int) -> int:
    """The join partition of an event: CRC-32 (IEEE, zlib's) of model id, 0x1f, event id, modulo
    the partitions. Stable across processes and releases (not Python's hash), cheap, and what a
    producer in any language can compute to key its labels the same way.

    >>> join_partition("fraud", "e1", 8)
    6
    """
    return zlib.crc32(f"{model_id}\x1f{event_id}".encode()) % partitions


class PendingPredictions(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["pending"] = "pending"
    schema_version: Literal[1] = 1
    model_id: str
    model_version: str
    event_ids: list[str]
    event_times_ms: list[int]
    window_starts_ms: list[int]
    scores: list[float | None]  # the positive class's score or the predicted number; None: a class
    classes: list[str | None]  # the predicted class, when the prediction is a label


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


JoinMessage = Annotated[Union[PendingPredictions, RoutedLabels, JoinProgress], Field(discriminator="kind")]
_ADAPTER = TypeAdapter(JoinMessage)


def encode_join_message(message: PendingPredictions | RoutedLabels | JoinProgress) -> bytes:
    return orjson.dumps(message.model_dump())


def decode_join_message(raw: bytes) -> PendingPredictions | RoutedLabels | JoinProgress:
    """Raises pydantic's ValidationError or orjson's JSONDecodeError (both ValueError)."""
    return _ADAPTER.validate_python(orjson.loads(raw))
