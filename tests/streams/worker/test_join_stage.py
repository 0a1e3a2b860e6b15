"""The join stage on its real store (RocksDB on disk): killed at seeded random points (its
uncommitted writes lost, reopened from disk) it ends with exactly the windows of an undisturbed
run: no label counted twice, none lost."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.performance import WindowPerformance
from schemas.join import encode_join_message
from streams.worker.join_stage import JoinRunner
from tests.streams.core.test_join_partition import J, W, _feed, _partitions, _scenario


class _Recorder:
    """Collects the join messages _feed hands each partition, as the join topic would hold them."""

    def __init__(self, j: int, log: dict[int, list[bytes]]) -> None:
        self.j, self.log = j, log

    def handle(self, message) -> None:
        self.log.setdefault(self.j, []).append(encode_join_message(message))


def _topic(seed: int) -> dict[int, list[bytes]]:
    log: dict[int, list[bytes]] = {}
    _feed([_Recorder(j, log) for j in range(J)], *_scenario(seed))
    return log


def _runner(tmp_path, j):
    return JoinRunner(j, tmp_path / f"join-{j}", window_ms=W, horizon_ms=7 * 86_400_000, wait_ms=5 * W,
                      new_window=lambda m, v: WindowPerformance("binary"))


def _run(tmp_path, topic, kill_points: dict[int, list[int]]) -> dict[tuple, dict]:
    """Every partition through its messages in batches of 7; at a kill point the runner loses its
    uncommitted state (or its unsent partials) and restarts from disk. Returns the last copy of
    every window the merge stage would hold."""
    received: dict[tuple, dict] = {}
    for j, messages in topic.items():
        runner = _runner(tmp_path, j)
        kills = sorted(kill_points.get(j, []))
        while (start := runner.next_offset or 0) < len(messages):
            end = min(start + 7, len(messages))
            for offset in range(start, end):
                runner.apply(offset, messages[offset])
            if kills and kills[0] < end:
                kills.pop(0)
                runner.close()  # killed before its commit: the overlay is gone
                runner = _runner(tmp_path, j)
                continue
            runner.commit(end)
            partials = runner.take_partials()
            if kills and kills[0] == end:
                kills.pop(0)
                runner.close()  # killed after its commit, before sending
                runner = _runner(tmp_path, j)
                continue
            for p in partials:
                received[(p.model_id, p.model_version, p.window_start_ms, j)] = p.state
            runner.sent(partials)
        runner.commit(len(messages))
        for p in runner.take_partials():  # what a restart still owed
            received[(p.model_id, p.model_version, p.window_start_ms, j)] = p.state
        runner.close()
    return received


def _windows(received) -> dict[int, dict]:
    merged: dict[int, WindowPerformance] = {}
    for (_, _, window, _), state in received.items():
        w = WindowPerformance.from_state(state)
        merged[window] = merged[window].merge(w) if window in merged else w
    return {k: v.snapshot(predicted=1) for k, v in merged.items()}


@pytest.mark.parametrize("seed", range(3))
def test_kills_at_random_points_give_the_windows_of_an_undisturbed_run(tmp_path, seed: int, figures) -> None:
    topic = _topic(3)
    clean = _windows(_run(tmp_path / "clean", topic, {}))
    rng = np.random.default_rng(seed)
    kills = {j: sorted(rng.choice(len(m), size=4, replace=False).tolist()) for j, m in topic.items()}
    disturbed = _windows(_run(tmp_path / "killed", topic, kills))
    assert disturbed.keys() == clean.keys()
    for window, snap in clean.items():
        for key, value in snap.items():
            assert disturbed[window][key] == pytest.approx(value, nan_ok=True), (window, key)
    figures(f"join stage killed at 4 seeded points per partition (seed {seed}): every window equal to the "
            f"undisturbed run, {sum(s['labeled_count'] for s in clean.values())} labels counted once")


class _Ends:
    def read(self, partitions):
        return {p: (0, 10**9) for p in partitions}

    def holds_messages(self, partition, first, last):
        return True


def test_the_join_agent_seeks_back_when_the_consumer_resumed_past_its_stored_state(tmp_path) -> None:
    import asyncio

    from schemas.partials import decode_partials_message
    from streams.settings import Settings
    from streams.worker.join_stage import JoinStage
    from tests.streams.fakes import FakeTopic

    messages = _topic(3)[0]
    settings = Settings(_env_file=None, worker_data_dir=tmp_path, window_seconds=60, label_wait_seconds=300)

    async def run():
        partials = FakeTopic()
        stage = JoinStage(settings, partials, None, _Ends())
        for offset in range(20):
            assert await stage.handle(0, offset, messages[offset]) is None
        await stage.flush()  # stored up to 20
        for offset in range(20, 30):
            await stage.handle(0, offset, messages[offset])  # applied, not stored: lost in the crash
        stage.runners[0].close()
        # Restarted: faust resumes at 30 (it had committed what it acked); the state is at 20.
        stage = JoinStage(settings, partials, None, _Ends())
        assert await stage.handle(0, 30, messages[30]) == 20
        assert await stage.handle(0, 31, messages[31]) is None  # read before the seek took effect: skipped
        for offset in range(20, len(messages)):
            assert await stage.handle(0, offset, messages[offset]) is None
        await stage.flush()
        return [decode_partials_message(v) for _, v in partials.log[0]]

    sent = asyncio.run(run())
    last = {}
    for p in sent:
        last[p.window_start_ms] = WindowPerformance.from_state(p.state).snapshot(predicted=1)
    clean = _windows(_run(tmp_path / "clean", {0: messages}, {}))
    assert {w: s["labeled_count"] for w, s in last.items()} == {w: s["labeled_count"] for w, s in clean.items()}


@pytest.mark.parametrize("j", range(J))
def test_messages_applied_while_partials_are_sent_are_never_stored_without_their_offset(tmp_path, j) -> None:
    # The join agent applies messages while the flush awaits the broker: a kill after the flush
    # must replay them onto a state without them (else a joined label comes back as a duplicate).
    messages = _topic(3)[j]
    clean = _windows(_run(tmp_path / "clean", {j: messages}, {}))
    half = len(messages) // 2
    runner = _runner(tmp_path / "raced", j)
    for offset in range(half):
        runner.apply(offset, messages[offset])
    runner.commit(half)
    partials = runner.take_partials()
    received = {(p.model_id, p.model_version, p.window_start_ms, j): p.state for p in partials}
    for offset in range(half, len(messages)):  # applied while the partials are on their way
        runner.apply(offset, messages[offset])
    runner.sent(partials)
    runner.close()  # killed before the next flush
    runner = _runner(tmp_path / "raced", j)
    assert runner.next_offset == half
    for offset in range(half, len(messages)):
        runner.apply(offset, messages[offset])
    runner.commit(len(messages))
    for p in runner.take_partials():
        received[(p.model_id, p.model_version, p.window_start_ms, j)] = p.state
    runner.close()
    raced = _windows(received)
    for window, snap in clean.items():
        assert raced[window]["labeled_count"] == snap["labeled_count"]
        assert raced[window]["duplicate_labels"] == snap["duplicate_labels"]
