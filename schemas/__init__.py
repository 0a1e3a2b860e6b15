"""Wire contract of driftline: one frozen, versioned pydantic model per message.

Nothing else in the codebase parses raw JSON from Kafka; streams/ calls these models.
"""

from schemas.alert import DriftAlert
from schemas.envelope import PredictionEnvelope
from schemas.labels import GroundTruth, LabelBatch
from schemas.prediction import (
    MAX_MESSAGE_BYTES,
    MAX_NESTING,
    PredictionBatch,
    PredictionEvent,
    event_time_ms,
    too_deeply_nested,
)
from schemas.profile import ProfileMessage, profile_key

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_NESTING",
    "DriftAlert",
    "GroundTruth",
    "LabelBatch",
    "PredictionBatch",
    "PredictionEnvelope",
    "PredictionEvent",
    "ProfileMessage",
    "event_time_ms",
    "profile_key",
    "too_deeply_nested",
]
