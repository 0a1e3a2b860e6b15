"""A fast decoder for prediction messages that pydantic would accept.

Validating every event with pydantic costs ~3x the JSON decode itself, most of the worker's
budget. msgspec decodes and type-checks the common, plainly valid shape in one C pass (faster
than orjson alone). It never rejects anything by itself: whatever it refuses goes to
`PredictionEvent`, which decides and explains. The fast schema is a strict subset of the pydantic
one (tests/schemas fuzz this), so the accepted set is exactly pydantic's.

Decoded events are `WireEvent`s, the worker's internal form of a valid event.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import msgspec

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
FeatureValue = Union[float, str, bool, None]


class WireEvent(msgspec.Struct, frozen=True):
    """A valid prediction event with its event time in epoch milliseconds."""

    event_id: NonEmpty
    model_id: NonEmpty
    timestamp: int
    features: dict[str, FeatureValue]
    prediction: Union[float, str, bool, dict[str, float]]
    model_version: str = ""
    latency_ms: Union[Annotated[float, msgspec.Meta(ge=0)], None] = None
    schema_version: Literal[1] = 1


class _Batch(msgspec.Struct):
    events: list[WireEvent]
    schema_version: Literal[1] = 1
    event_id: None = None  # a top-level event_id makes the message a single event, not a batch


class _Columns(msgspec.Struct):
    event_id: list[NonEmpty]
    timestamp: list[int]
    prediction: list[Union[float, str, bool, dict[str, float]]]
    features: dict[str, list[FeatureValue]]
    latency_ms: Union[list[Union[Annotated[float, msgspec.Meta(ge=0)], None]], None] = None


class _Envelope(msgspec.Struct):
    """A columnar envelope (schemas/envelope.py); either key below makes it another wire form."""

    model_id: NonEmpty
    columns: _Columns
    model_version: str = ""
    schema_version: Literal[1] = 1
    event_id: msgspec.UnsetType = msgspec.UNSET
    events: msgspec.UnsetType = msgspec.UNSET


_single = msgspec.json.Decoder(WireEvent)
_batch = msgspec.json.Decoder(_Batch)
_envelope = msgspec.json.Decoder(_Envelope)


def fast_decode(raw: bytes) -> list[WireEvent] | None:
    """The events of a plainly valid message (one event, a batch or an envelope), or None when unsure."""
    try:
        if b'"events"' in raw:
            return _batch.decode(raw).events
        if b'"columns"' in raw and (rows := fast_decode_envelope(raw)) is not None:
            return rows
        return [_single.decode(raw)]
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def fast_decode_envelope(raw: bytes) -> list[WireEvent] | None:
    """The rows of a plainly valid columnar envelope, or None when unsure."""
    try:
        e = _envelope.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None  # not an envelope after all (a single event may hold a "columns" key), or not plainly valid
    c = e.columns
    rows = len(c.event_id)
    latency = c.latency_ms if c.latency_ms is not None else [None] * rows
    if any(len(column) != rows for column in (c.timestamp, c.prediction, latency, *c.features.values())):
        return None
    names = list(c.features)
    features = [dict(zip(names, values)) for values in zip(*c.features.values())] if names else [{} for _ in range(rows)]
    return [WireEvent(event_id=i, model_id=e.model_id, timestamp=t, features=f, prediction=p,
                      model_version=e.model_version, latency_ms=lat)
            for i, t, f, p, lat in zip(c.event_id, c.timestamp, features, c.prediction, latency)]
