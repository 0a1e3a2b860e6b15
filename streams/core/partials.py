"""A closed window of one partition as a `WindowPartial` (schemas/partials.py), and back.

The partial carries the profile its state was built on: the merge stage may run on a worker that
has since seen a newer profile (or, after a restart, not yet the old one), and merging needs the
exact edges and categories the counts refer to. Profiles are fingerprinted so the merge can tell
which partials share one.
"""

from __future__ import annotations

import hashlib
import time

import orjson

from detectors.profile import ReferenceProfile
from detectors.window import ModelWindow
from schemas.partials import WindowPartial
from streams.core.windowing import ClosedWindow

_MAX_CACHED = 256


class ProfileFingerprints:
    """Fingerprints (and plain dicts) of profiles, computed once per profile object; profiles
    parsed back from partials, once per fingerprint."""

    def __init__(self) -> None:
        self._by_object: dict[int, tuple[ReferenceProfile, str, dict]] = {}
        self._by_fingerprint: dict[str, ReferenceProfile] = {}

    def of(self, profile: ReferenceProfile) -> tuple[str, dict]:
        found = self._by_object.get(id(profile))
        if found is None or found[0] is not profile:
            if len(self._by_object) >= _MAX_CACHED:
                self._by_object.clear()
            data = profile.to_dict()
            fingerprint = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]
            found = self._by_object[id(profile)] = (profile, fingerprint, data)
        return found[1], found[2]

    def profile(self, fingerprint: str | None, data: dict | None) -> ReferenceProfile | None:
        if fingerprint is None or data is None:
            return None
        found = self._by_fingerprint.get(fingerprint)
        if found is None:
            if len(self._by_fingerprint) >= _MAX_CACHED:
                self._by_fingerprint.clear()
            found = self._by_fingerprint[fingerprint] = ReferenceProfile.from_dict(data)
        return found


def partial_of(window: ClosedWindow, partition: int, fingerprints: ProfileFingerprints) -> WindowPartial:
    began = time.perf_counter()
    profile = window.state.profile
    fingerprint, data = (None, None) if profile is None else fingerprints.of(profile)
    state = window.state.to_state()
    return WindowPartial(model_id=window.model_id, model_version=window.model_version,
                         window_start_ms=window.start_ms, window_end_ms=window.end_ms, partition=partition,
                         closed_by=window.closed_by, profile_fingerprint=fingerprint, profile=data,
                         state=state, built_ms=(time.perf_counter() - began) * 1000)


def partial_key(model_id: str, model_version: str) -> bytes:
    """All partials of one (model, version) go to one merge partition."""
    return orjson.dumps([model_id, model_version])


def window_of(partial: WindowPartial, fingerprints: ProfileFingerprints) -> ModelWindow:
    return ModelWindow.from_state(partial.state, fingerprints.profile(partial.profile_fingerprint, partial.profile))
