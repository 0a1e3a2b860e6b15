"""Alert events as Alertmanager alerts: one alert per incident, kept alive, ended on resolve."""

from __future__ import annotations

from schemas import DriftAlert
from streams.notify.alertmanager import AlertmanagerState, flux_query, labels_of

START = 1_700_000_000_000
W = 60_000


def _event(status="firing", reason="opened", severity="minor", statistic="ks", window=0, feature="amount",
           version="1"):
    return DriftAlert.for_incident(
        alert_id=f"id-{reason}-{window}", model_id="fraud", model_version=version, window_start=START + window * W,
        window_end=START + (window + 1) * W, feature=feature, statistic=statistic, value=0.12, threshold=0.05,
        severity=severity, status=status, reason=reason, dedup_key=f"fraud/{version}/{feature}/drift",
        incident_start=START, windows_in_incident=window + 1)


def test_an_incident_is_one_alert_kept_alive_then_ended_by_its_resolve() -> None:
    state = AlertmanagerState(bucket="driftline", resend_s=60)
    now = START + 10 * W
    [opened] = state.apply(_event(), now)
    assert opened["labels"] == {"alertname": "DriftlineDrift", "model": "fraud", "version": "1", "feature": "amount",
                                "statistic": "ks", "severity": "minor"}
    assert opened["startsAt"] == "2023-11-14T22:13:20.000Z" and opened["endsAt"] > opened["startsAt"]
    assert "r.feature == \"amount\"" in opened["annotations"]["flux"]
    [alive] = state.refresh(now + 60_000)
    assert alive["labels"] == opened["labels"] and alive["endsAt"] > opened["endsAt"]
    [resolved] = state.apply(_event("resolved", "resolved", window=5), now + 120_000)
    assert resolved["labels"] == opened["labels"]
    assert resolved["endsAt"] == "2023-11-14T22:19:20.000Z"  # the end of the window that resolved it
    assert state.refresh(now + 180_000) == []


def test_an_escalation_ends_the_minor_alert_and_the_resolve_ends_the_major_one() -> None:
    state = AlertmanagerState(bucket="driftline")
    state.apply(_event(), START)
    ended, major = state.apply(_event(reason="escalated", severity="major", statistic="psi", window=2), START + 1)
    assert ended["labels"]["severity"] == "minor" and ended["endsAt"] == "2023-11-14T22:13:20.001Z"
    assert major["labels"]["severity"] == "major" and major["startsAt"] == "2023-11-14T22:13:20.000Z"
    # The resolve event names the statistic below its clear level; Alertmanager must end what fires.
    [resolved] = state.apply(_event("resolved", "resolved", severity="minor", window=4), START + 2)
    assert resolved["labels"] == major["labels"]


def test_changes_are_point_events_and_quality_has_its_own_name() -> None:
    state = AlertmanagerState(bucket="b", resend_s=10)
    change = DriftAlert.for_window(model_id="m", model_version="", window_start=START, window_end=START + W,
                                   feature="latency_ms", statistic="adwin", value=40.0, threshold=0.002)
    [sent] = state.apply(change, START)
    assert sent["labels"]["alertname"] == "DriftlineChange" and sent["labels"]["version"] == "unversioned"
    assert state.refresh(START) == []  # never re-sent: it ends by itself
    assert labels_of(_event(statistic="missing_share"))["alertname"] == "DriftlineDataQuality"
    assert 'r._measurement == "data_quality"' in flux_query(_event(statistic="missing_share"), "b")
