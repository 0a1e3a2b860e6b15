"""The backtest's replay of the worker's logic, in memory: on a seeded stream whose shifted windows
are known, the incidents it finds are exactly those; a lower PSI threshold opens more; how the
messages are spread over partitions changes nothing; lateness follows each partition's order."""

import numpy as np
import orjson
import pytest

from streams.commands.replay import Replay
from streams.core.decoding import decode_message
from streams.settings import Settings
from tests.streams.commands.seeded import (EVENTS_PER_WINDOW, KNOWN_INCIDENT, MILD_AND_STRONG, SHIFTS, WINDOW_MS,
                                           messages, profile, window_of)

BASE = 1_767_348_000_000  # 2026-01-02 10:00 UTC
PROFILE = profile()
SETTINGS = dict(window_seconds=WINDOW_MS / 1000, allowed_lateness_seconds=1, idle_grace_seconds=1)


def _replay(raw_messages, settings, partitions=1, spread=None):
    """Every message through one Replay; `spread(i)` picks message i's partition (default 0)."""
    replay = Replay(settings, lambda model, version: PROFILE, partitions)
    offsets = [0] * partitions
    for i, raw in enumerate(raw_messages):
        partition = 0 if spread is None else spread(i)
        replay.add(partition, offsets[partition], decode_message(raw))
        offsets[partition] += 1
    replay.finish_all()
    return replay


def _events(replay, model="m"):
    return [(e.status, e.reason, window_of(e.window_start_ms, BASE)) for e in replay.models[(model, "v1")].events]


def test_the_known_incident_and_nothing_else():
    replay = _replay(messages("m", SHIFTS, BASE), Settings(**SETTINGS))
    run = replay.models[("m", "v1")]
    assert _events(replay) == KNOWN_INCIDENT
    assert [window_of(w.start_ms, BASE) for w in run.windows] == list(range(len(SHIFTS)))
    assert all(w.count == EVENTS_PER_WINDOW and w.late_count == 0 and w.judged for w in run.windows)
    flagged = {window_of(w.start_ms, BASE): {(f.feature, f.family) for f in w.flags} for w in run.windows if w.flags}
    assert flagged == {w: {("f_num_a", "drift")} for w in range(1, 6)}
    (incident,) = run.incidents
    assert incident.dedup_key == ("m", "v1", "f_num_a", "drift")
    assert (incident.opened_ms, incident.resolved_ms, incident.severity) == (BASE + WINDOW_MS, BASE + 7 * WINDOW_MS,
                                                                              "major")
    assert replay.open_incidents == []
    assert run.flag_counts() == {("f_num_a", "drift"): {"minor": 2, "major": 3}}


def test_a_lower_psi_threshold_opens_more_incidents():
    stream = messages("m", MILD_AND_STRONG, BASE)
    live = _replay(stream, Settings(**SETTINGS, drift_statistics="psi"))
    lower = _replay(stream, Settings(**SETTINGS, drift_statistics="psi", psi_threshold=0.05))
    assert _events(live) == [("firing", "opened", 5), ("resolved", "resolved", 7)]
    assert _events(lower) == [("firing", "opened", 1), ("resolved", "resolved", 3),
                              ("firing", "opened", 5), ("resolved", "resolved", 7)]
    assert len(lower.models[("m", "v1")].incidents) > len(live.models[("m", "v1")].incidents)


@pytest.mark.parametrize("partitions, spread", [(4, "random"), (3, "first only"), (2, "alternate")])
def test_how_messages_are_spread_over_partitions_changes_nothing(partitions, spread):
    stream = messages("m", SHIFTS, BASE)
    rng = np.random.default_rng(3)
    pick = {"random": lambda i: int(rng.integers(partitions)), "first only": lambda i: 0,
            "alternate": lambda i: i % partitions}[spread]
    one = _replay(stream, Settings(**SETTINGS))
    many = _replay(stream, Settings(**SETTINGS), partitions, pick)
    assert [e.alert_id for e in many.models[("m", "v1")].events] == [e.alert_id for e in one.models[("m", "v1")].events]
    assert [(w.start_ms, w.count) for w in many.models[("m", "v1")].windows] == \
        [(w.start_ms, w.count) for w in one.models[("m", "v1")].windows]


def _batch(times):
    return orjson.dumps({"events": [{"event_id": f"e{t}", "model_id": "m", "timestamp": t, "features": {},
                                     "prediction": 0.5} for t in times]})


def test_an_event_after_its_partition_closed_its_window_is_late_as_in_the_worker():
    w = WINDOW_MS
    stream = [_batch([10, 20]), _batch([2 * w + 1_500]), _batch([30]), _batch([2 * w + 2_000])]
    replay = Replay(Settings(**SETTINGS), lambda m, v: None, 1)
    for offset, raw in enumerate(stream[:2]):
        replay.add(0, offset, decode_message(raw))
    # Window 0 closed by the watermark (2w + 1.5 s > w + 1 s lateness) before the rest is read.
    assert [(x.start_ms, x.count) for x in replay.models[("m", "")].windows] == [(0, 2)]
    for offset, raw in enumerate(stream[2:], start=2):
        replay.add(0, offset, decode_message(raw))
    replay.finish_all()
    windows = [(x.start_ms, x.count, x.late_count) for x in replay.models[("m", "")].windows]
    assert windows == [(0, 2, 0), (2 * w, 2, 1)]  # the late event counted in the current window


def test_a_finished_partition_takes_no_more_messages():
    replay = Replay(Settings(**SETTINGS), lambda m, v: None, 2)
    replay.finish(1)
    with pytest.raises(ValueError, match="finished"):
        replay.add(1, 0, decode_message(_batch([1])))
