"""The merge stage over an in-memory table: a worker taking over a merge partition recovers it from
the table, replayed partials replace their copies, ADWIN gives one alert per change, a message it
cannot read is skipped with one line."""

from __future__ import annotations

import asyncio
import logging
import math

import numpy as np
import orjson

from detectors import build_profile
from detectors.window import ModelWindow
from schemas import DriftAlert
from schemas.partials import OnlineChange, PartitionProgress, encode_partials_message
from streams.worker.merge_stage import MergeRunner
from streams.core.partials import ProfileFingerprints, partial_of
from streams.settings import Settings
from streams.core.windowing import ClosedWindow
from tests.streams.fakes import FakeSink, FakeTopic

SETTINGS = Settings(window_seconds=1, _env_file=None)
PROFILE = build_profile({"x": list(np.random.default_rng(0).normal(size=2000))})


def _runner(table: dict, sink=None, alerts=None) -> MergeRunner:
    runner = MergeRunner(SETTINGS, 2, sink or FakeSink(), alerts or FakeTopic(), table)
    runner._reload_alerts = False
    return runner


def _partial(partition: int, n: int, start: int = 0) -> bytes:
    window = ModelWindow(PROFILE)
    rng = np.random.default_rng(n)
    window.update({"x": rng.normal(size=n)}, latencies_ms=rng.gamma(2.0, 3.0, n), events=n)
    closed = ClosedWindow("m", "1", start, start + 1_000, window, 0, "watermark")
    return encode_partials_message(partial_of(closed, partition, ProfileFingerprints()))


def _progress(partition: int, until: int) -> bytes:
    return encode_partials_message(PartitionProgress(partition=partition, partitions=2, closed_until_ms=until,
                                                     watermark_ms=until + 300))


def test_a_merge_partition_taken_over_is_recovered_from_the_table():
    table, sink = {}, FakeSink()
    first = _runner(table, sink)
    asyncio.run(first.handle(0, _partial(0, 300)))
    asyncio.run(first.handle(0, _progress(0, 1_000)))
    # the worker dies; another takes the merge partition over with the table's contents
    second = _runner(table, sink)
    asyncio.run(second.handle(0, _partial(1, 200)))
    assert sink.points == {}
    asyncio.run(second.handle(0, _progress(1, 1_000)))
    assert sink.points[("m", "1", 0)]["count"] == 500
    assert not [k for k in table if orjson.loads(k)[1] == "partial"]  # final: its partials are gone
    assert second.topic_watermark_ms == 1_300


class ChangelogTable(dict):
    """A table that also keeps, in order, the changelog records its writes would send."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.records: list[tuple[str, str | None]] = []

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.records.append((key, value))

    def pop(self, key, *default):
        self.records.append((key, None))
        return super().pop(key, *default)


def test_a_crash_after_any_changelog_record_of_a_finalisation_never_finalises_the_window_again_with_fewer_partials():
    before = {}
    first = _runner(before, FakeSink())
    for raw in (_partial(0, 300), _progress(0, 1_000), _partial(1, 200)):
        asyncio.run(first.handle(0, raw))
    table = ChangelogTable(before)
    first.table = first.performance.table = table
    asyncio.run(first.handle(0, _progress(1, 1_000)))  # finalises: a point, then table records
    assert first.sink.points[("m", "1", 0)]["count"] == 500
    assert len(table.records) >= 3
    for delivered in range(len(table.records) + 1):  # killed with only these records on the changelog
        recovered = dict(before)
        for key, value in table.records[:delivered]:
            if value is None:
                recovered.pop(key, None)
            else:
                recovered[key] = value
        sink = FakeSink()
        sink.points = dict(first.sink.points)  # the point was written before any record
        second = _runner(recovered, sink)
        asyncio.run(second.handle(0, _progress(1, 1_000)))  # not acknowledged: delivered again
        asyncio.run(second.handle(0, _progress(0, 2_000)))
        asyncio.run(second.handle(0, _progress(1, 2_000)))
        assert sink.points[("m", "1", 0)]["count"] == 500, delivered
        assert not [k for k in recovered if orjson.loads(k)[1] == "partial"], delivered


def test_a_replayed_partial_replaces_its_copy_and_one_after_the_final_is_ignored():
    sink = FakeSink()
    runner = _runner({}, sink)
    for raw in (_partial(0, 300), _partial(0, 300), _partial(1, 100), _progress(0, 1_000), _progress(1, 1_000)):
        asyncio.run(runner.handle(0, raw))
    assert sink.points[("m", "1", 0)]["count"] == 400
    asyncio.run(runner.handle(0, _partial(1, 100)))
    asyncio.run(runner.handle(0, _progress(1, 2_000)))
    assert len(sink.writes) == 1


def _online(partition: int, start: int) -> bytes:
    alert = DriftAlert.for_window(model_id="m", model_version="1", window_start=start, window_end=start + 1_000,
                                  feature="latency", statistic="adwin", value=3.0, threshold=0.002,
                                  major_threshold=math.inf)
    return encode_partials_message(OnlineChange(partition=partition, event_id="e", alert=alert))


def test_adwin_changes_seen_by_several_partitions_give_one_alert(caplog):
    alerts, table = FakeTopic(), {}
    runner = _runner(table, alerts=alerts)
    with caplog.at_level(logging.INFO, "driftline.merge"):
        for raw in (_online(0, 5_000), _online(1, 6_000), _online(0, 5_000)):
            asyncio.run(runner.handle(0, raw))
    assert len(alerts.log[0]) == 1 and "the same change" in caplog.text
    restarted = _runner(table, alerts=alerts)  # the dedup survives a takeover
    asyncio.run(restarted.handle(0, _online(1, 4_000)))
    assert len(alerts.log[0]) == 1
    asyncio.run(restarted.handle(0, _online(1, 9_000)))  # a later change is a new one
    assert len(alerts.log[0]) == 2


def test_a_message_it_cannot_read_is_skipped_with_one_line(caplog):
    runner = _runner({})
    with caplog.at_level(logging.ERROR, "driftline.merge"):
        asyncio.run(runner.handle(0, b'{"kind": "partial", "schema_version": 9}'))
        asyncio.run(runner.handle(0, b"\xff"))
    assert len([r for r in caplog.records if "unreadable message skipped" in r.message]) == 2
