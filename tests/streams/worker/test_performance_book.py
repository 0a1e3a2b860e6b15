"""The merge stage's window performance: written once the window is final, rewritten when a join
partition's copy changes, the copies merged, recovered from the table after a takeover."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from detectors.performance import WindowPerformance
from schemas.partials import PerformancePartial
from streams.worker.performance_book import PerformanceBook
from tests.streams.fakes import FakeSink

W = 60_000


def _copy(jp, scores, labels):
    w = WindowPerformance("binary")
    w.update(scores, labels, lags_ms=[1000] * len(labels))
    return PerformancePartial(model_id="m", model_version="1", window_start_ms=W, window_end_ms=2 * W,
                              join_partition=jp, state=w.to_state())


def test_written_when_final_rewritten_per_copy_and_recovered() -> None:
    async def run():
        table, sink = {}, FakeSink()
        book = PerformanceBook(table, sink, W, 7 * 86_400_000)
        await book.partial(0, _copy(0, [0.9, 0.1], [True, False]))
        assert sink.performance == {}  # not final yet: its prediction count is unknown
        await book.finalised(0, [("m", "1", W, 10, None, None)])
        assert sink.performance[("m", "1", W)]["labeled_count"] == 2
        await book.partial(0, _copy(1, [0.8], [False]))
        await book.partial(0, _copy(0, [0.9, 0.1, 0.7], [True, False, True]))  # replaces partition 0's copy
        fields = sink.performance[("m", "1", W)]
        assert fields["labeled_count"] == 4 and fields["label_coverage"] == 0.4 and fields["accuracy"] == 0.75
        # Another worker takes the merge partition over: the table has it all.
        other = PerformanceBook(table, FakeSink(), W, 7 * 86_400_000)
        for raw_key, value in table.items():
            import orjson
            assert other.restore(0, orjson.loads(raw_key), value)
        assert other.merged((0, "m", "1", W)).snapshot(predicted=10) == fields
    asyncio.run(run())


def test_a_window_significantly_below_the_baseline_raises_one_accuracy_drop_alert() -> None:
    async def run():
        sent = []

        async def send(alert):
            sent.append(alert)
        sink = FakeSink()
        book = PerformanceBook({}, sink, W, 7 * 86_400_000, send_alert=send)
        rng = np.random.default_rng(3)
        scores = rng.random(400)
        wrong = rng.random(400) < 0.35  # accuracy ~0.65 against a baseline of 0.9
        labels = [bool((s >= 0.5) != flip) for s, flip in zip(scores, wrong)]
        await book.finalised(0, [("m", "1", W, 400, None, {"accuracy": 0.9})])
        w = WindowPerformance("binary")
        w.update(list(scores), labels, lags_ms=[1] * 400)
        await book.partial(0, PerformancePartial(model_id="m", model_version="1", window_start_ms=W,
                                                 window_end_ms=2 * W, join_partition=0, state=w.to_state()))
        fields = sink.performance[("m", "1", W)]
        assert fields["accuracy_drop_severity"] == "major" and fields["accuracy_drop_p"] < 1e-6
        assert [(a.statistic, a.feature, a.severity) for a in sent] == [("accuracy_drop", "performance", "major")]
        assert sent[0].threshold == pytest.approx(0.85)
    asyncio.run(run())
