"""Incidents: one firing when a feature starts drifting, one update when it gets worse, one
resolved after it stayed below its clear level for K windows; replays and gaps change nothing."""

from streams.core.incidents import IncidentTracker, Signal

W = 10_000


def _window(tracker, k, psi, feature="amount", data=True):
    severity = "major" if psi >= 0.25 else "minor" if psi >= 0.2 else "none"
    signals = [Signal(feature, "drift", "psi", psi, 0.2, severity)] if data else []
    values = {(feature, "psi"): psi} if data else {}
    return tracker.observe("fraud", "1", k * W, (k + 1) * W, signals, values)


def _run(tracker, psis):
    return [e for k, psi in enumerate(psis) for e in _window(tracker, k, psi)]


def test_a_drift_of_five_windows_gives_one_firing_and_one_resolved():
    events = _run(IncidentTracker(), [0.01, 0.21, 0.22, 0.21, 0.23, 0.22, 0.05, 0.04, 0.03])
    assert [(e.status, e.reason, e.window_start_ms // W) for e in events] == [
        ("firing", "opened", 1), ("resolved", "resolved", 7)]
    assert events[1].incident_start_ms == events[0].incident_start_ms == W
    assert events[1].windows_in_incident == 7  # five drifting, two clear
    assert len({e.alert_id for e in events}) == 2


def test_an_escalation_gives_one_update_and_severity_never_drops():
    events = _run(IncidentTracker(), [0.21, 0.3, 0.21, 0.4, 0.01, 0.01])
    assert [(e.reason, e.severity) for e in events] == [("opened", "minor"), ("escalated", "major"),
                                                         ("resolved", "major")]


def test_a_value_between_the_clear_level_and_the_threshold_keeps_it_open():
    events = _run(IncidentTracker(clear_ratio=0.8), [0.21, 0.18, 0.19, 0.17, 0.18, 0.1, 0.1])
    assert [e.reason for e in events] == ["opened", "resolved"] and events[1].window_start_ms == 6 * W


def test_windows_without_data_neither_clear_nor_extend():
    tracker = IncidentTracker()
    assert [e.reason for e in _window(tracker, 0, 0.3)] == ["opened"]
    for k in (1, 2, 3):
        assert _window(tracker, k, 0.0, data=False) == []
    assert _window(tracker, 4, 0.01) == []
    (resolved,) = _window(tracker, 5, 0.01)
    assert resolved.windows_in_incident == 3


def test_a_replayed_window_changes_nothing():
    tracker = IncidentTracker()
    first = _run(tracker, [0.21, 0.3])
    assert _window(tracker, 1, 0.3) == [] and _window(tracker, 0, 0.21) == []
    assert [e.reason for e in first] == ["opened", "escalated"]
    assert tracker.open[("fraud", "1", "amount", "drift")].windows == 2


def test_reminders_follow_the_repeat_interval_in_event_time():
    events = _run(IncidentTracker(repeat_ms=3 * W), [0.21] * 8)
    assert [(e.reason, e.window_start_ms // W) for e in events] == [("opened", 0), ("reminder", 3), ("reminder", 6)]


def test_ids_are_deterministic_and_the_state_survives_a_restart():
    a, b = IncidentTracker(), IncidentTracker()
    _run(a, [0.21, 0.22])
    key = ("fraud", "1", "amount", "drift")
    b.restore(key, a.incident_state(key))
    rest = [0.22, 0.01, 0.01]
    events_a = [e for k, psi in enumerate(rest, 2) for e in _window(a, k, psi)]
    events_b = [e for k, psi in enumerate(rest, 2) for e in _window(b, k, psi)]
    assert events_a == events_b and [e.reason for e in events_a] == ["resolved"]
    assert events_a[0].alert_id == events_b[0].alert_id
