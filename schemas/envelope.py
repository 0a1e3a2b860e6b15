"""Columnar envelopes: many events of one model version in one message, column by column.

The third wire form on `<prefix>.predictions`, beside one event and `{"events": [...]}`; the
producer SDK (driftline/) sends it. Feature names are written once per message instead of once
per event, so it is smaller and decodes faster (native/src/envelope.rs):

    {"schema_version": 1, "model_id": "fraud", "model_version": "3",
     "columns": {"event_id": ["a1", "a2"], "timestamp": [1700000000000, 1700000000004],
                 "prediction": [0.91, 0.12], "latency_ms": [4.2, null],
                 "features": {"amount": [12.5, 3.0], "country": ["DE", null]}}}

Row i is the event `{"event_id": event_id[i], "model_id": model_id, "model_version":
model_version, "timestamp": timestamp[i], "prediction": prediction[i], "latency_ms":
latency_ms[i], "features": {name: column[i] for each feature}}`, judged exactly as a
`PredictionEvent`: a bad value rejects its row only. The envelope itself is judged here: a
message that is not of this shape, or whose columns differ in length, is rejected whole.
`latency_ms` may be left out (no latencies); null in a feature column is a missing value.
Other fields, at the top and in `columns`, are allowed and ignored.

>>> raw = encode_envelope("fraud", "3", ["a1", "a2"], [1700000000000, 1700000000004], [0.91, 0.12],
...                       {"amount": [12.5, 3.0]}, latency_ms=[4.2, None])
>>> [row["features"] for row in PredictionEnvelope.model_validate_json(raw).rows()]
[{'amount': 12.5}, {'amount': 3.0}]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Optional

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator


class EnvelopeColumns(BaseModel):
    """The columns; their values are judged per row (by PredictionEvent), their lengths here."""

    model_config = ConfigDict(frozen=True, extra="allow")

    event_id: list[Any]
    timestamp: list[Any]
    prediction: list[Any]
    latency_ms: Optional[list[Any]] = None
    features: dict[StrictStr, list[Any]]

    @model_validator(mode="after")
    def _same_length(self) -> "EnvelopeColumns":
        rows = len(self.event_id)
        named = {"timestamp": self.timestamp, "prediction": self.prediction, **self.features}
        if self.latency_ms is not None:
            named["latency_ms"] = self.latency_ms
        for name, column in named.items():
            if len(column) != rows:
                raise ValueError(f"column {name!r} has {len(column)} values, event_id {rows}")
        return self


class PredictionEnvelope(BaseModel):
    """Events of one model version, column-wise (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    schema_version: Literal[1] = 1
    model_id: StrictStr = Field(min_length=1)
    model_version: StrictStr = ""
    columns: EnvelopeColumns

    def __len__(self) -> int:
        return len(self.columns.event_id)

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each row as the event it stands for, for `PredictionEvent` to judge."""
        c = self.columns
        names, values = list(c.features), list(c.features.values())
        for i, event_id in enumerate(c.event_id):
            row = {"event_id": event_id, "model_id": self.model_id, "model_version": self.model_version,
                   "timestamp": c.timestamp[i], "features": {n: v[i] for n, v in zip(names, values)},
                   "prediction": c.prediction[i]}
            if c.latency_ms is not None:
                row["latency_ms"] = c.latency_ms[i]
            yield row


def is_envelope(message: object) -> bool:
    """Whether a decoded message is meant as an envelope: `columns` at the top, and neither of
    the keys that make it a batch (`events`) or a single event (`event_id`)."""
    return message.__class__ is dict and "columns" in message and "events" not in message \
        and "event_id" not in message


def encode_envelope(model_id: str, model_version: str, event_ids: list[str], timestamps: list[int],
                    predictions: list, features: dict[str, list], latency_ms: list | None = None) -> bytes:
    """The message for these columns (all of one length; not validated here)."""
    return b"".join(envelope_parts(model_id, model_version, event_ids, timestamps, predictions, features,
                                   latency_ms))


def envelope_parts(model_id: str, model_version: str, event_ids: list[str], timestamps: list[int],
                   predictions: list, features: dict[str, list], latency_ms: list | None = None) -> Iterator[bytes]:
    """`encode_envelope`'s message in pieces, one per feature column after the head: a producer
    thread can pause between them (orjson holds the GIL while it writes)."""
    head = {"schema_version": 1, "model_id": model_id, "model_version": model_version}
    columns: dict[str, object] = {"event_id": event_ids, "timestamp": timestamps, "prediction": predictions}
    if latency_ms is not None:
        columns["latency_ms"] = latency_ms
    yield orjson.dumps(head)[:-1] + b',"columns":' + orjson.dumps(columns)[:-1] + b',"features":{'
    for i, (name, values) in enumerate(features.items()):
        yield (b"," if i else b"") + orjson.dumps(name) + b":" + orjson.dumps(values)
    yield b"}}}"
