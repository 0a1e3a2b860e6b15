"""One model's events over every partition (a random key per message), two workers in one group:
kill -9 of one of them at seeded random moments, restarted each time, then killed for good; every
window still counts exactly what was produced for it (merged from all partitions, finalised once),
and no alert id is published twice."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.faults.traffic import Producer, Traffic, Workers, publish_profiles, read_back, worker_env

pytestmark = pytest.mark.stack

KILLS = 3


def test_spread_models_two_workers_killed_and_taken_over(fault_stack, tmp_path, run_id, fault_result):
    seed = 20261202
    rng = np.random.default_rng(seed)
    traffic = Traffic(prefix=f"spread-{run_id}", seed=seed, windows=10, spread=True)
    workers = Workers(worker_env(fault_stack, traffic.prefix, tmp_path), tmp_path)
    try:
        victim = workers.start("a")
        survivor = workers.start("b")
        publish_profiles(fault_stack, traffic)
        time.sleep(5)  # both members in the group, partitions shared
        producer = Producer(fault_stack, traffic, duration_s=70)
        producer.start()
        kills = []
        for _ in range(KILLS):
            time.sleep(float(rng.uniform(4.0, 12.0)))
            kills.append(round(producer.elapsed()))
            victim.kill9()
            victim = workers.start("a")
        time.sleep(float(rng.uniform(4.0, 10.0)))
        kills.append(round(producer.elapsed()))
        victim.kill9()  # for good: b takes every partition of both stages over
        producer.finish()
        outcome = read_back(fault_stack, traffic, timeout_s=180)
        outcome.notes = (f"seed {seed}; a killed at {', '.join(map(str, kills[:-1]))} s (restarted), "
                         f"for good at {kills[-1]} s")
        fault_result("spread over 4 partitions, 2 workers, kill -9 x3 then for good", outcome)
        assert not outcome.problems, outcome.problems[:10]
        assert outcome.duplicate_alerts == 0
        assert survivor.proc.poll() is None
        log = workers.logs()
        assert "4 partition(s)" in log  # windows were merged from every partition
    finally:
        workers.stop_all()
