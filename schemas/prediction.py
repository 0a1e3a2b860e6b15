"""Prediction events, published by inference services to `<prefix>.predictions`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

# A Kafka message larger than this is rejected before it is parsed.
MAX_MESSAGE_BYTES = 1024 * 1024

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
