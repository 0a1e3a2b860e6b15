"""InfluxDB stopped and frozen (SIGSTOP) for 60 s, Kafka stopped for 20 s, while events flow:
nothing is lost or counted late, results follow InfluxDB's return within seconds, and the worker
says what is happening in a few lines instead of one per attempt."""

from __future__ import annotations

import re
import time

import pytest

from tests.faults.traffic import Producer, Traffic, Workers, publish_profiles, read_back, worker_env

pytestmark = pytest.mark.stack


def _error_lines(log: str) -> int:
    return len(re.findall(r"\bERROR\b", log))


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _first_write_after(log: str, back_at: float) -> float | None:
    """Seconds from InfluxDB's return to the worker's first successful write."""
    import datetime as dt

    for line in log.splitlines():
        if "succeeded after" in line:
            stamp = dt.datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if stamp >= back_at - 1:
                return stamp - back_at
    return None


def _outage(fault_stack, tmp_path, run_id, name, component, seconds, *, pause, seed):
    traffic = Traffic(prefix=f"{name}-{run_id}", seed=seed, windows=8)
    # The default idle grace (5 s): after an outage producers need a moment to send what they held.
    workers = Workers(worker_env(fault_stack, traffic.prefix, tmp_path, DRIFTLINE_IDLE_GRACE_SECONDS="5"), tmp_path)
    try:
        worker = workers.start()
        publish_profiles(fault_stack, traffic)
        producer = Producer(fault_stack, traffic, duration_s=40)
        producer.start()
        time.sleep(10)
        before = _error_lines(worker.log())
        (fault_stack.pause if pause else fault_stack.stop)(component)
        time.sleep(seconds)
        back_at = time.time()
        if pause:
            fault_stack.resume(component)
        else:
            fault_stack.start()
        producer.finish()
        outcome = read_back(fault_stack, traffic, timeout_s=180)
        caught_up_s = time.time() - back_at
        errors = _error_lines(worker.log()) - before
        first = _first_write_after(worker.log(), back_at)
        rss = _rss_mb(worker.proc.pid)
        outcome.notes = (f"first write {first:.1f} s after its return, " if first is not None else "") + \
            f"all results {caught_up_s:.0f} s after (backlog read); {errors} ERROR lines; RSS {rss:.0f} MB"
        outcome.first_write_s = first
        return worker.proc.poll() is None, worker.log(), outcome, errors
    finally:
        workers.stop_all()


@pytest.mark.parametrize("pause", [False, True], ids=["stopped", "sigstopped"])
def test_influxdb_away_for_60_s_while_events_flow(fault_stack, tmp_path, run_id, fault_result, pause):
    alive, log, outcome, errors = _outage(fault_stack, tmp_path, run_id, "influx", "influxd", 60, pause=pause,
                                          seed=31 + pause)
    fault_result(f"InfluxDB {'SIGSTOPped' if pause else 'stopped'} 60 s", outcome)
    assert not outcome.problems, outcome.problems[:10]
    assert alive, log[-3000:]
    assert errors <= 12, log[-3000:]  # one line per 10 s of outage, not one per attempt
    assert outcome.first_write_s is not None and outcome.first_write_s <= 5.0, log[-3000:]


def test_kafka_stopped_for_20_s_while_events_flow(fault_stack, tmp_path, run_id, fault_result):
    alive, log, outcome, errors = _outage(fault_stack, tmp_path, run_id, "kafka", "kafka", 20, pause=False, seed=41)
    fault_result("Kafka stopped 20 s", outcome)
    assert not outcome.problems, outcome.problems[:10]
    assert alive, log[-3000:]
    assert errors <= 40, log[-3000:]  # a few lines per kind and 10 s, not one per reconnect attempt
