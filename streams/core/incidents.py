"""Incidents: one alert when a statistic starts firing for a feature, one when it is over.

Without I/O. The merge stage (worker/merge_stage.py) feeds it each final window of a model
version, oldest first, with the window's per-feature signals (what fired, and the current value of
each statistic), and publishes what it returns. An incident is identified by its `dedup_key`
(model, version, feature, statistic family); its life:

- **firing**: the first window whose verdict fires opens it (one alert);
- **firing, severity up**: a later window of the incident fires `major` while it was `minor`
  (one update); severity never goes down within an incident;
- **firing, reminder**: optionally, after `repeat_ms` of event time since the last alert while it
  stays open (Alertmanager's repeat_interval);
- **resolved**: after `clear_windows` consecutive windows in which the statistic that opened it
  stayed below its clear level (`clear_ratio` × its threshold: a hysteresis, so a value hovering
  at the threshold does not open and close incidents in turn). A window in which the feature has
  no data (the model sent nothing) neither clears nor extends it.

Every alert id is derived from the dedup key, the incident's start and the window that caused the
event, so ids are deterministic (a replay gives the same ids) and never repeat. The state is
plain data (`to_state` / `from_state`), one entry per open incident.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

DedupKey = tuple[str, str, str, str]  # model_id, model_version, feature, family


@dataclass(frozen=True)
class Signal:
    """One feature's statistic in one window: what the window verdict said about it."""

    feature: str
    family: str  # "drift", or a data-quality statistic's name
    statistic: str  # the statistic that fired, or that the family is judged by
    value: float
    threshold: float
    severity: str  # "none", "minor" or "major"

    @property
    def firing(self) -> bool:
        return self.severity != "none"


@dataclass
class Incident:
    statistic: str
    threshold: float
    start_ms: int  # start of the window that opened it
    severity: str
    windows: int = 1  # windows since it opened (firing or not)
    clear_streak: int = 0
    last_alert_ms: int = 0  # end of the window of the last alert it caused
    last_window_ms: int = 0  # end of the last window it has seen: a window replayed is skipped
    last_value: float = 0.0


@dataclass(frozen=True)
class IncidentEvent:
    """An alert to publish."""

    dedup_key: DedupKey
    status: str  # "firing" or "resolved"
    reason: str  # "opened", "escalated", "reminder", "resolved"
    window_start_ms: int
    window_end_ms: int
    incident_start_ms: int
    windows_in_incident: int
    statistic: str
    value: float
    threshold: float
    severity: str

    @property
    def alert_id(self) -> str:
        key = "\x1f".join([*self.dedup_key, str(self.incident_start_ms), self.reason, str(self.window_start_ms)])
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def dedup_key_text(key: DedupKey) -> str:
    return "/".join(part or "-" for part in key)


@dataclass
class IncidentTracker:
    clear_ratio: float = 0.8
    clear_windows: int = 2
    repeat_ms: int = 4 * 3600 * 1000  # 0: no reminders
    open: dict[DedupKey, Incident] = field(default_factory=dict)

    def observe(self, model_id: str, model_version: str, window_start_ms: int, window_end_ms: int,
                signals: list[Signal], values: dict[tuple[str, str], float]) -> list[IncidentEvent]:
        """One final window. `signals`: per (feature, family), the strongest firing signal or, for
        a family that did not fire, none; `values`: (feature, statistic) -> current value, for the
        features the window had data for (what an open incident's clear test reads)."""
        events: list[IncidentEvent] = []
        firing = {(s.feature, s.family): s for s in signals if s.firing}
        seen_features = {feature for feature, _ in values} | {s.feature for s in signals}
        for (feature, family), signal in sorted(firing.items()):
            key = (model_id, model_version, feature, family)
            incident = self.open.get(key)
            if incident is None:
                incident = self.open[key] = Incident(signal.statistic, signal.threshold, window_start_ms,
                                                     signal.severity, last_alert_ms=window_end_ms,
                                                     last_window_ms=window_end_ms, last_value=signal.value)
                events.append(self._event(key, incident, "opened", window_start_ms, window_end_ms, signal.value))
                continue
            if window_end_ms <= incident.last_window_ms:
                continue  # a window already counted (a replay): nothing new
            incident.last_window_ms = window_end_ms
            incident.windows += 1
            incident.clear_streak = 0
            incident.last_value = signal.value
            if signal.severity == "major" and incident.severity == "minor":
                incident.severity = "major"
                incident.statistic, incident.threshold = signal.statistic, signal.threshold
                incident.last_alert_ms = window_end_ms
                events.append(self._event(key, incident, "escalated", window_start_ms, window_end_ms, signal.value))
            elif self.repeat_ms and window_end_ms - incident.last_alert_ms >= self.repeat_ms:
                incident.last_alert_ms = window_end_ms
                events.append(self._event(key, incident, "reminder", window_start_ms, window_end_ms, signal.value))
        for key, incident in sorted(self.open.items()):
            model, version, feature, family = key
            if (model, version) != (model_id, model_version) or (feature, family) in firing:
                continue
            if feature not in seen_features or window_end_ms <= incident.last_window_ms:
                continue  # no data for it in this window, or a replayed window
            value = values.get((feature, incident.statistic))
            incident.windows += 1
            incident.last_window_ms = window_end_ms
            if value is not None and value < self.clear_ratio * incident.threshold:
                incident.clear_streak += 1
                incident.last_value = value
            else:
                incident.clear_streak = 0
            if incident.clear_streak >= self.clear_windows:
                del self.open[key]
                events.append(self._event(key, incident, "resolved", window_start_ms, window_end_ms,
                                          incident.last_value))
        return events

    @staticmethod
    def _event(key: DedupKey, incident: Incident, reason: str, start: int, end: int, value: float) -> IncidentEvent:
        return IncidentEvent(key, "resolved" if reason == "resolved" else "firing", reason, start, end,
                             incident.start_ms, incident.windows, incident.statistic, value, incident.threshold,
                             incident.severity)

    def incident_state(self, key: DedupKey) -> dict | None:
        incident = self.open.get(key)
        return None if incident is None else asdict(incident)

    def restore(self, key: DedupKey, state: dict) -> None:
        self.open[key] = Incident(**state)
