"""Ground truth, published to `<prefix>.labels` when a prediction's true outcome becomes known.

One label per message, or many: `{"labels": [label, ...]}`. A label names the prediction it
belongs to by `event_id` (the prediction event's) and `model_id`; `label` is the true class (a
string, bool or integer) or, for a regressor, the true number; `timestamp` is when the outcome
became known (epoch milliseconds or RFC 3339), which gives the label's lag.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator

from schemas.prediction import EventTime

LabelValue = Union[StrictBool, StrictInt, StrictFloat, Annotated[str, Field(strict=True, min_length=1)]]


class GroundTruth(BaseModel):
    """The true outcome of one prediction.

    >>> g = GroundTruth.model_validate_json(
    ...     b'{"event_id": "e1", "model_id": "fraud", "label": true, "timestamp": 1700000090000}')
    >>> g.label, g.model_version
    (True, '')
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    schema_version: Literal[1] = 1
    event_id: StrictStr = Field(min_length=1)
    model_id: StrictStr = Field(min_length=1)
    model_version: StrictStr = ""  # optional: the prediction's own version is what counts
    label: LabelValue
    timestamp: EventTime

    @field_validator("label")
    @classmethod
    def _finite(cls, value: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("a numeric label must be finite")
        return value


class LabelBatch(BaseModel):
    """Many labels in one Kafka message: `{"labels": [label, ...]}`."""

    model_config = ConfigDict(frozen=True, extra="allow")

    schema_version: Literal[1] = 1
    labels: list[GroundTruth]
