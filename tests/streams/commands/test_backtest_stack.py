"""`driftline backtest` on the real stack: a seeded topic whose incident is known, read between two
Kafka timestamps, gives that incident with the alert ids the worker itself published for it, and
writes nothing to the alerts topic."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from tests.streams.commands.seeded import (KNOWN_INCIDENT, SHIFTS, STACK_WORKER, WINDOW_MS, messages, profile_message,
                                          window_of)
from tests.streams.stack_data import wait_until

pytestmark = pytest.mark.stack

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))


def _alerts(stack, topic, expect):
    return [orjson.loads(m.value()) for m in stack.read_topic(topic, expect=expect, timeout_s=90, settle_s=3)]


def test_the_known_incident_with_the_workers_alert_ids_between_two_times(stack, start_worker, worker_env, tmp_path):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model, outside = f"bt-{prefix}", f"bt-outside-{prefix}"
    start_worker(**STACK_WORKER)  # creates the topics (4 predictions partitions)
    producer = stack.producer(**{"message.max.bytes": 4_000_000})
    producer.produce(f"{prefix}.profiles", key=model.encode(), value=profile_message(model))
    assert producer.flush(10) == 0
    time.sleep(1.0)  # the worker follows the profiles topic
    base = (int(time.time() * 1000) // WINDOW_MS - 40) * WINDOW_MS
    topic = f"{prefix}.predictions"
    rng = np.random.default_rng(5)

    def produce(values):
        for value in values:  # spread over every partition, as random keys would
            producer.produce(topic, value=value, partition=int(rng.integers(4)))
        assert producer.flush(10) == 0

    produce(messages(outside, [0.0], base, seed=1))  # before --from: not read
    time.sleep(1.0)
    started = int(time.time() * 1000)
    stream = messages(model, SHIFTS, base)
    produce(stream)
    stopped = int(time.time() * 1000) + 1
    time.sleep(1.0)
    produce(messages(outside, [0.0], base + len(SHIFTS) * WINDOW_MS, seed=2))  # after --to: not read

    alerts = wait_until(lambda: (found := _alerts(stack, f"{prefix}.alerts", 3)) and len(found) >= 3 and found, 90)
    assert [(a["status"], a["reason"], window_of(a["window_start_ms"], base)) for a in alerts] == KNOWN_INCIDENT

    env = {**worker_env, **STACK_WORKER}
    result = subprocess.run([DRIFTLINE, "backtest", "--from", str(started), "--to", str(stopped), "--json",
                             "--psi-threshold", "0.05", "--alert-clear-windows", "3"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr
    out = orjson.loads(result.stdout)
    assert out["source"]["topic"] == topic and len(out["source"]["offsets"]) == 4
    assert (out["messages"], out["rejected"]) == (len(stream), 0)
    (entry,) = out["models"]  # the messages stamped outside the range are not in it
    assert entry["model_id"] == model
    live = entry["live"]
    events = [e for i in live["incidents"] for e in i["events"]]
    assert [(e["status"], e["reason"], window_of(e["window_start_ms"], base)) for e in events] == KNOWN_INCIDENT
    assert [e["alert_id"] for e in events] == [a["alert_id"] for a in alerts]  # what the worker published
    assert live["summary"]["windows"] == len(SHIFTS) and live["summary"]["events"] == len(SHIFTS) * 3000
    candidate = entry["candidate"]
    assert out["overrides"] == {"psi_threshold": 0.05, "alert_clear_windows": 3}
    (incident,) = candidate["incidents"]  # resolved one clear window later (3 instead of 2)
    assert window_of(incident["resolved_ms"], base) == 8

    assert len(_alerts(stack, f"{prefix}.alerts", 3)) == 3  # the backtest published nothing
