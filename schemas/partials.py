"""Messages of the worker group's internal `<app_id>.partials` topic: stage one (a predictions
partition) tells stage two (the merge of a model's windows) what it closed and how far it got.

- `WindowPartial`: one partition's state of one (model, version, window) when it closed there,
  keyed by (model, version) so all partials of a model meet in one merge partition.
- `PartitionProgress`: every window ending at or before `closed_until_ms` is closed in that
  predictions partition and its partial sent; sent to every merge partition, also by partitions
  that saw no event of a model (that is how they stop holding windows back).
- `OnlineChange`: an ADWIN detection of one partition, for the merge stage to publish once.
- `PerformancePartial`: a join partition's realised performance of one window (labels, #11).

Internal, but versioned like every wire message: workers of two releases may share a group
during a rolling upgrade, and a message of an unknown version is refused, not misread.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.alert import DriftAlert


class WindowPartial(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["partial"] = "partial"
    schema_version: Literal[1] = 1
    model_id: str
    model_version: str
    window_start_ms: int
    window_end_ms: int
    partition: int  # of the predictions topic
    closed_by: str  # "watermark" or "idle"
    profile_fingerprint: str | None  # which profile the state was built on (None: no profile)
    profile: dict[str, Any] | None  # that profile (ReferenceProfile.to_dict()), so any worker can merge
    state: dict[str, Any]  # ModelWindow.to_state()
    built_ms: float = 0.0  # what building this partial cost the partition (for the bench's figures)


class PartitionProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["progress"] = "progress"
    schema_version: Literal[1] = 1
    partition: int  # of the predictions topic
    partitions: int  # how many partitions the predictions topic has, as the sender sees it
    closed_until_ms: int
    watermark_ms: int | None = None  # the partition's largest event time (None: no event yet)


class OnlineChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["online"] = "online"
    schema_version: Literal[1] = 1
    partition: int
    event_id: str
    alert: DriftAlert


class PerformancePartial(BaseModel):
    """One join partition's cumulative performance of one (model, version, window): its labels
    joined so far. Replaces the partition's earlier copy; the merge stage merges the partitions."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["performance"] = "performance"
    schema_version: Literal[1] = 1
    model_id: str
    model_version: str
    window_start_ms: int
    window_end_ms: int
    join_partition: int
    state: dict[str, Any]  # detectors.performance.WindowPerformance.to_state()


PartialsMessage = Annotated[Union[WindowPartial, PartitionProgress, OnlineChange, PerformancePartial],
                            Field(discriminator="kind")]
_ADAPTER = TypeAdapter(PartialsMessage)


def encode_partials_message(message: WindowPartial | PartitionProgress | OnlineChange | PerformancePartial) -> bytes:
    return orjson.dumps(message.model_dump(), option=orjson.OPT_SERIALIZE_NUMPY)


def decode_partials_message(raw: bytes) -> WindowPartial | PartitionProgress | OnlineChange | PerformancePartial:
    """Raises pydantic's ValidationError or orjson's JSONDecodeError (both ValueError)."""
    return _ADAPTER.validate_python(orjson.loads(raw))
