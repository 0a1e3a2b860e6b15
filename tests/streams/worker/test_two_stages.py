"""Both stages of the worker without Kafka (tests/streams/fakes.py): a model's events spread over
partitions give the windows of one partition holding them all, and a kill -9 at any moment,
with the restart resuming from what Kafka kept, gives the results of an undisturbed run."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import orjson
import pytest

from detectors import build_profile
from schemas.fast_path import WireEvent
from streams.settings import Settings
from tests.streams.fakes import Durable, Profiles, SimulatedWorker

W, LATENESS = 1_000, 200
SETTINGS = Settings(window_seconds=W / 1000, allowed_lateness_seconds=LATENESS / 1000, idle_grace_seconds=10**6,
                    adwin_delta=0, min_window_events=1, _env_file=None)
PROFILES = Profiles({"a": build_profile({"x": list(np.random.default_rng(0).normal(size=2000))})})


def _messages(rng, n: int, jitter_ms: int) -> list[list[WireEvent]]:
    """Messages of 1-3 events of models a and b; times rise with jitter (beyond the lateness: late
    events) and x shifts in the third window."""
    t, out = 0, []
    for i in range(n):
        t += int(rng.integers(10, 40))
        events = []
        for _ in range(int(rng.integers(1, 4))):
            ts = max(0, t - int(rng.integers(0, jitter_ms + 1)))
            x = float(rng.normal(2.0 if 2 * W <= ts < 3 * W else 0.0))
            events.append(WireEvent(event_id=f"e{i}", model_id=str(rng.choice(["a", "b"])), prediction=0.0,
                                    features={"x": x}, timestamp=ts, latency_ms=float(rng.gamma(2.0, 3.0))))
        out.append(events)
    return out


def _spread(messages, partitions: int, rng) -> dict[int, list]:
    spread = {p: [] for p in range(partitions)}
    for m in messages:
        spread[int(rng.integers(partitions))].append(m)
    return spread


async def _run(predictions, *, kills=(), seed=0, partials_partitions=2):
    """Deliver every message (partitions interleaved at random); kill -9 after the given steps."""
    rng = np.random.default_rng(seed)
    durable = Durable(predictions, partials_partitions)
    worker = SimulatedWorker(SETTINGS, PROFILES, durable)
    step = 0
    while any(worker.pending(p) for p in predictions):
        partition = int(rng.choice([p for p in predictions if worker.pending(p)]))
        await worker.step(partition)
        step += 1
        if step % 7 == 0:
            await worker.tick()
        if step in kills:
            worker.kill({mp: int(rng.integers(0, 4)) for mp in durable.partials.log})
            for p in predictions:  # faust may have committed past a held message: the checkpoint decides
                low = durable.committed[p]
                durable.committed[p] = int(rng.integers(low, max(low, worker.position.get(p, 0)) + 1))
            worker = SimulatedWorker(SETTINGS, PROFILES, durable)
    await worker.tick()
    return durable


def _alert_ids(durable) -> list[str]:
    return [orjson.loads(v)["alert_id"] for _, v in durable.alerts.log[0]]


def _close(a: dict, b: dict) -> None:
    assert a["count"] == b["count"] and a["late_count"] == b["late_count"]
    for feature, stats in a["features"].items():
        for key, value in stats.items():
            other = b["features"][feature][key]
            assert (math.isnan(value) and math.isnan(other)) or value == pytest.approx(other, rel=1e-9, abs=1e-12), (
                feature, key)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_events_spread_over_partitions_give_the_windows_of_one_partition(seed):
    rng = np.random.default_rng(seed)
    messages = _messages(rng, 400, jitter_ms=100)  # within the lateness: no late events
    one = asyncio.run(_run({0: messages}))
    spread = asyncio.run(_run(_spread(messages, 3, rng), seed=seed))
    assert len(spread.sink.points) >= 6
    for key, point in spread.sink.points.items():
        _close(point, one.sink.points[key])
    assert set(one.sink.points) - set(spread.sink.points) <= {k for k in one.sink.points if k[2] >= max(
        s for _, _, s in spread.sink.points) - W}  # only the last window(s) may still be open
    alerts = [orjson.loads(v) for _, v in spread.alerts.log[0]]
    assert alerts  # (windows of ~40 events: noise opens incidents too; the same ones as one partition's)
    finalised = {k[2] for k in spread.sink.points}
    assert sorted(_alert_ids(spread)) == sorted(a for a in _alert_ids(one) if any(
        orjson.loads(v)["alert_id"] == a and orjson.loads(v)["window_start_ms"] in finalised
        for _, v in one.alerts.log[0]))


@pytest.mark.parametrize("seed", [4, 5])
def test_a_kill_at_any_moment_gives_the_results_of_an_undisturbed_run(seed):
    rng = np.random.default_rng(seed)
    predictions = _spread(_messages(rng, 150, jitter_ms=600), 3, rng)  # late events too
    calm = asyncio.run(_run(predictions, seed=seed))
    assert sum(p["late_count"] for p in calm.sink.points.values()) > 0, "the stream should exercise late events"
    for kill_at in range(1, 150, 2):
        hit = asyncio.run(_run(predictions, kills=(kill_at,), seed=seed))
        assert hit.sink.points.keys() == calm.sink.points.keys(), f"kill after step {kill_at}"
        for key, point in calm.sink.points.items():
            _close(hit.sink.points[key], point)
        for key, value in hit.sink.writes:  # a rewrite after the restart is the same point
            _close(value, calm.sink.points[key])
        ids = _alert_ids(hit)
        assert sorted(ids) == sorted(set(_alert_ids(calm))) and len(ids) == len(set(ids)), f"kill after {kill_at}"


def test_several_kills_in_one_run():
    rng = np.random.default_rng(11)
    predictions = _spread(_messages(rng, 200, jitter_ms=600), 4, rng)
    calm = asyncio.run(_run(predictions, seed=11))
    for trial in range(10):
        kills = tuple(sorted(rng.choice(np.arange(1, 200), size=3, replace=False)))
        hit = asyncio.run(_run(predictions, kills=kills, seed=11))
        assert hit.sink.points.keys() == calm.sink.points.keys(), kills
        for key, point in calm.sink.points.items():
            _close(hit.sink.points[key], point)
        ids = _alert_ids(hit)
        assert len(ids) == len(set(ids)) == len(set(_alert_ids(calm))), kills


@pytest.mark.parametrize("seed", [6, 7])
def test_partitions_revoked_mid_window_and_taken_over_give_the_undisturbed_results(seed):
    """A second worker joins mid-stream: half of both topics' partitions move to it while their
    windows are open; it resumes them from the checkpoints and the merge table."""
    rng = np.random.default_rng(seed)
    predictions = _spread(_messages(rng, 160, jitter_ms=600), 4, rng)
    calm = asyncio.run(_run(predictions, seed=seed))

    async def rebalanced(move_at: int):
        order = np.random.default_rng(seed)
        durable = Durable(predictions, 2)
        first = SimulatedWorker(SETTINGS, PROFILES, durable)
        owner = {p: first for p in predictions}
        second = None
        step = 0
        while any(owner[p].pending(p) for p in predictions):
            p = int(order.choice([q for q in predictions if owner[q].pending(q)]))
            await owner[p].step(p)
            step += 1
            if step % 7 == 0:
                for w in {id(w): w for w in owner.values()}.values():
                    await w.tick()
            if step == move_at:
                first.revoke([2, 3], [1])
                second = SimulatedWorker(SETTINGS, PROFILES, durable, merge_partitions=[1])
                owner.update({2: second, 3: second})
        for w in (first, second):
            if w is not None:
                await w.tick()
        return durable

    for move_at in range(5, 160, 9):
        hit = asyncio.run(rebalanced(move_at))
        assert hit.sink.points.keys() == calm.sink.points.keys(), f"moved at step {move_at}"
        for key, point in calm.sink.points.items():
            _close(hit.sink.points[key], point)
        ids = _alert_ids(hit)
        assert len(ids) == len(set(ids)) == len(set(_alert_ids(calm))), move_at
