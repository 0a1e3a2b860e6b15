"""The worker's windows, verdicts and incidents over a recorded stream, in one process and without
I/O: what `driftline backtest` runs, once with the live settings and once with the overrides.

It composes the faust-free core as the worker does (streams/worker/partition_stage.py and
merge_stage.py): per predictions partition a `PartitionWindows` takes the decoded messages in
offset order and closes windows by its watermark; each closed window's state is a partial that a
`WindowMerger` merges once every partition has passed the window's end; each final window is
judged (`WindowFindings`) and its verdicts go to an `IncidentTracker`. A partition read to the end
of the range goes idle, as a live partition with nothing left to read does: it closes its open
windows and follows the others' watermark and progress (windowing.py), so once every partition
is finished every window is final. Nothing is written anywhere; the results stay in memory.

What the live worker does besides: ADWIN and the label join (neither depends on the window
settings); and its lateness also depends on a live run's timing, the replay's only on the order
of each partition's messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detectors.profile import ReferenceProfile
from detectors.window import ModelWindow
from streams.core.decoding import Decoded
from streams.core.findings import WindowFindings, drift_policy, incident_inputs
from streams.core.incidents import DedupKey, IncidentEvent, IncidentTracker
from streams.core.merger import FinalWindow, WindowMerger
from streams.core.partials import ProfileFingerprints
from streams.core.windowing import ClosedWindow, PartitionWindows, ProfileLookup
from streams.settings import Settings

# The wall clock a finished partition is idle at: past every window's end + lateness + grace, so
# its idle close takes all its open windows (event times are never this far ahead).
IDLE_AT_MS = 10**15
_LOOK_STEP_MS = 1_000  # end-offset looks of an idle partition, closer than windowing.END_FRESH_MS

# The settings a backtest may change: the ones that decide windows, verdicts and incidents.
TUNABLE = ("window_seconds", "allowed_lateness_seconds", "psi_threshold", "psi_major_threshold", "drift_statistics",
           "drift_alpha", "min_window_events", "alert_clear_ratio", "alert_clear_windows", "alert_repeat_seconds")

ModelKey = tuple[str, str]  # model_id, model_version


@dataclass(frozen=True)
class Flag:
    """A verdict that fired in one window: what an alert (or an incident's update) is made of."""

    feature: str
    family: str  # "drift", or a data-quality statistic's name
    statistic: str
    severity: str
    value: float


@dataclass(frozen=True)
class WindowResult:
    start_ms: int
    end_ms: int
    count: int
    late_count: int
    judged: bool
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class Incident:
    """One incident's life in the replay, from its events."""

    dedup_key: DedupKey
    opened_ms: int  # start of the window that opened it
    events: tuple[IncidentEvent, ...]

    @property
    def resolved_ms(self) -> int | None:
        last = self.events[-1]
        return last.window_start_ms if last.status == "resolved" else None

    @property
    def severity(self) -> str:
        return self.events[-1].severity


@dataclass
class ModelRun:
    """What one model version's windows said, oldest first."""

    windows: list[WindowResult] = field(default_factory=list)
    events: list[IncidentEvent] = field(default_factory=list)

    @property
    def incidents(self) -> list[Incident]:
        grouped: dict[tuple[DedupKey, int], list[IncidentEvent]] = {}
        for event in self.events:
            grouped.setdefault((event.dedup_key, event.incident_start_ms), []).append(event)
        return sorted((Incident(key, start, tuple(events)) for (key, start), events in grouped.items()),
                      key=lambda i: (i.opened_ms, i.dedup_key))

    def flag_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """(feature, family) -> windows flagged per severity."""
        counts: dict[tuple[str, str], dict[str, int]] = {}
        for window in self.windows:
            for flag in window.flags:
                per = counts.setdefault((flag.feature, flag.family), {"minor": 0, "major": 0})
                per[flag.severity] = per.get(flag.severity, 0) + 1
        return dict(sorted(counts.items()))


class Replay:
    """One run of the worker's logic with one set of settings over `partitions` partitions."""

    def __init__(self, settings: Settings, profiles: ProfileLookup, partitions: int) -> None:
        self.settings = settings
        self.policy = drift_policy(settings)
        self.partitions = {p: PartitionWindows(settings.window_ms, settings.lateness_ms, settings.idle_grace_ms,
                                               profiles) for p in range(partitions)}
        self.merger = WindowMerger(partitions, self._restore)
        self.tracker = IncidentTracker(clear_ratio=settings.alert_clear_ratio,
                                       clear_windows=settings.alert_clear_windows,
                                       repeat_ms=int(settings.alert_repeat_seconds * 1000))
        self.models: dict[ModelKey, ModelRun] = {}
        self._fingerprints = ProfileFingerprints()
        self._profiles: dict[str, ReferenceProfile] = {}  # fingerprint -> profile, of the partials made
        self._idle: set[int] = set()

    def add(self, partition: int, offset: int, decoded: Decoded) -> None:
        """One message of a partition, in offset order (the decoded value is only read, so one
        decoding serves several replays)."""
        if partition in self._idle:
            raise ValueError(f"partition {partition} was finished: no message may follow")
        windows = self.partitions[partition]
        windows.add(decoded.valid, offset=offset, wall_ms=0.0)
        if windows.due_by_watermark():
            self._close(partition)
            self._follow()

    def finish(self, partition: int) -> None:
        """The partition is read to the end of the range: it goes idle (and stays so)."""
        if partition in self._idle:
            return
        windows = self.partitions[partition]
        # Looks that find nothing left to read, for the idle grace: what makes a live partition idle.
        look = IDLE_AT_MS - self.settings.idle_grace_ms
        while look < IDLE_AT_MS:
            windows.confirm_end(windows.next_offset, look)
            look += _LOOK_STEP_MS
        windows.confirm_end(windows.next_offset, IDLE_AT_MS)
        self._idle.add(partition)
        self._follow()

    def finish_all(self) -> None:
        for partition in self.partitions:
            self.finish(partition)

    @property
    def open_incidents(self) -> list[DedupKey]:
        return sorted(self.tracker.open)

    def _follow(self) -> None:
        """Idle partitions close what is due and follow the others until nothing moves."""
        moved = True
        while moved:
            moved = False
            for partition in sorted(self._idle):
                moved |= self._close(partition)

    def _close(self, partition: int) -> bool:
        windows = self.partitions[partition]
        wall = IDLE_AT_MS if partition in self._idle else 0.0
        mark = max((w.watermark_ms for w in self.partitions.values() if w.watermark_ms is not None), default=None)
        progress = max(w.closed_until_ms for w in self.partitions.values())
        before = windows.closed_until_ms
        closed = windows.pop_due(wall, mark, progress)
        if not closed and windows.closed_until_ms == before:
            return False
        for window in closed:
            self._partial(partition, window)
        self.merger.progress(partition, windows.closed_until_ms)
        for final in self.merger.finalise():
            self._judge(final)
        return True

    def _partial(self, partition: int, window: ClosedWindow) -> None:
        fingerprint = None
        if window.state.profile is not None:
            fingerprint = self._fingerprints.of(window.state.profile)[0]
            self._profiles[fingerprint] = window.state.profile
        self.merger.add_partial((window.model_id, window.model_version, window.start_ms, window.end_ms), partition,
                                fingerprint, window.state.to_state(), window.closed_by)

    def _restore(self, state: dict, fingerprint: str | None) -> ModelWindow:
        return ModelWindow.from_state(state, None if fingerprint is None else self._profiles[fingerprint])

    def _judge(self, final: FinalWindow) -> None:
        model_id, version, start, end = final.window_id
        found = WindowFindings(ClosedWindow(model_id, version, start, end, final.window, -1, final.closed_by),
                               self.settings, self.policy)
        signals, values = incident_inputs(found, self.settings)
        run = self.models.setdefault((model_id, version), ModelRun())
        run.events += self.tracker.observe(model_id, version, start, end, signals, values)
        snap = found.snapshot
        run.windows.append(WindowResult(start, end, int(snap["count"]), int(snap["late_count"]), found.judged, tuple(
            Flag(s.feature, s.family, s.statistic, s.severity, s.value) for s in signals if s.firing)))
