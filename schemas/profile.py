"""Reference profiles, published to the compacted topic `<prefix>.profiles`.

Key: the model id, or `<model_id>@<model_version>` for a profile of one version only; a
version-specific profile wins over the model-wide one. An empty value (tombstone) deletes one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def profile_key(model_id: str, model_version: str = "") -> str:
    """The Kafka key of a profile."""
    return f"{model_id}@{model_version}" if model_version else model_id


class ProfileMessage(BaseModel):
    """A reference profile for one model (and optionally one version).

    `profile` is the plain data of `detectors.ReferenceProfile.to_dict()`.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    model_id: str = Field(min_length=1)
    model_version: str = ""
    created_at: str
    source: str = ""
    profile: dict[str, Any]

    @property
    def key(self) -> str:
        return profile_key(self.model_id, self.model_version)
