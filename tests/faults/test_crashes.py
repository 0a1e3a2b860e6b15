"""kill -9 at seeded random moments, and a takeover by a second worker of the group: every window
still counts exactly what was produced for it, no alert is published twice."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.faults.traffic import Producer, Traffic, Workers, publish_profiles, read_back, worker_env

pytestmark = pytest.mark.stack

KILLS = 5


def test_kill_dash_nine_at_random_moments(fault_stack, tmp_path, run_id, fault_result):
    seed = 20261201
    rng = np.random.default_rng(seed)
    traffic = Traffic(prefix=f"kill-{run_id}", seed=seed, windows=10)
    workers = Workers(worker_env(fault_stack, traffic.prefix, tmp_path), tmp_path)
    try:
        worker = workers.start()
        publish_profiles(fault_stack, traffic)
        producer = Producer(fault_stack, traffic, duration_s=70)
        producer.start()
        kills = []
        for _ in range(KILLS):
            time.sleep(float(rng.uniform(2.0, 9.0)))  # a random moment of the worker's life
            kills.append(round(producer.elapsed(), 1))
            worker.kill9()
            worker = workers.start()
        producer.finish()
        outcome = read_back(fault_stack, traffic, timeout_s=180)
        outcome.notes = f"seed {seed}; killed at {', '.join(f'{k:.0f}' for k in kills)} s of the stream"
        fault_result(f"kill -9 x{KILLS}, restarted each time", outcome)
        assert not outcome.problems, outcome.problems[:10]
        assert outcome.duplicate_alerts == 0
        assert worker.proc.poll() is None
    finally:
        workers.stop_all()


def test_two_workers_one_killed_for_good(fault_stack, tmp_path, run_id, fault_result):
    traffic = Traffic(prefix=f"takeover-{run_id}", seed=5, windows=8)
    workers = Workers(worker_env(fault_stack, traffic.prefix, tmp_path), tmp_path)
    try:
        first = workers.start("a")
        second = workers.start("b")
        publish_profiles(fault_stack, traffic)
        time.sleep(5)  # both members in the group, partitions shared
        producer = Producer(fault_stack, traffic, duration_s=40)
        producer.start()
        time.sleep(15)
        killed_at = producer.elapsed()
        first.kill9()
        producer.finish()
        outcome = read_back(fault_stack, traffic, timeout_s=180)
        outcome.notes = f"worker a killed at {killed_at:.0f} s; b took over"
        fault_result("two workers, one killed for good", outcome)
        assert not outcome.problems, outcome.problems[:10]
        assert outcome.duplicate_alerts == 0
        assert second.proc.poll() is None
    finally:
        workers.stop_all()
