"""Prediction events, published by inference services to `<prefix>.predictions`."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

# A Kafka message larger than this is rejected before it is parsed.
MAX_MESSAGE_BYTES = 1024 * 1024
# JSON nested deeper than this (objects and arrays) is rejected whole: events are flat, and
# decoders that recurse must not be driven into a RecursionError (native/src/parse.rs agrees).
MAX_NESTING = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")


def too_deeply_nested(raw: bytes) -> bool:
    """Whether JSON text nests objects/arrays deeper than MAX_NESTING (strings are skipped).

    >>> too_deeply_nested(b'{"a": [1, {"b": "[[[["}]}'), too_deeply_nested(b"[" * 65 + b"]" * 65)
    (False, True)
    """
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:  # the common case, at C speed
        return False
    brackets = _STRING.sub(b"", raw).translate(None, _BRACKETS)
    steps = np.frombuffer(brackets, dtype=np.uint8)
    depth = np.cumsum(np.where((steps == ord("[")) | (steps == ord("{")), 1, -1))
    return bool(depth.size) and int(depth.max()) > MAX_NESTING

# Strict types: "1.5" is a type error for a number, never silently coerced.
FeatureValue = Union[StrictBool, StrictInt, StrictFloat, StrictStr, None]
Prediction = Union[StrictBool, StrictInt, StrictFloat, StrictStr, dict[StrictStr, Union[StrictInt, StrictFloat]]]
# Event time: epoch milliseconds or an RFC 3339 string (pydantic parses both into a datetime).
EventTime = Union[Annotated[int, Field(strict=True)], datetime]


class PredictionEvent(BaseModel):
    """One prediction made by a model.

    >>> e = PredictionEvent.model_validate_json(
    ...     b'{"event_id": "e1", "model_id": "fraud", "timestamp": 1700000000000,'
    ...     b' "features": {"amount": 12.5, "country": "DE"}, "prediction": 0.93, "latency_ms": 4.2}')
    >>> e.model_version, event_time_ms(e.timestamp)
    ('', 1700000000000)
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    schema_version: Literal[1] = 1
    event_id: StrictStr = Field(min_length=1)
    model_id: StrictStr = Field(min_length=1)
    model_version: StrictStr = ""
    timestamp: EventTime
    features: dict[StrictStr, FeatureValue]
    prediction: Prediction
    latency_ms: Annotated[Union[StrictInt, StrictFloat], Field(ge=0)] | None = None


class PredictionBatch(BaseModel):
    """Many events in one Kafka message: `{"events": [event, ...]}`.

    Batches amortise the per-message cost of the stream processor.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    schema_version: Literal[1] = 1
    events: list[PredictionEvent]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def event_time_ms(timestamp: int | datetime) -> int:
    """Event time as integer epoch milliseconds; naive datetimes are taken as UTC."""
    if isinstance(timestamp, int):
        return timestamp
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=timezone.utc)
    delta = timestamp - _EPOCH
    return (delta.days * 86_400_000) + (delta.seconds * 1000) + (delta.microseconds // 1000)
