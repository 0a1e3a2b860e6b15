"""Bad profile messages among good ones while events flow: each is rejected with a line naming
its model key, the model keeps its previous profile (its windows keep their drift results), and
the windows still count exactly what was produced."""

from __future__ import annotations

import time

import orjson
import pytest

from tests.faults.traffic import Producer, Traffic, Workers, publish_profiles, read_back, worker_env
from tests.streams.stack_data import window_fields

pytestmark = pytest.mark.stack


def _bad_profiles(good: bytes) -> dict[str, bytes]:
    def mutate(path: list[str]) -> bytes:
        data = orjson.loads(good)
        target = data["profile"]["features"]["f_num_a"]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]][0] = 123456.789
        return orjson.dumps(data).replace(b"123456.789", b"NaN")

    return {"not JSON": b"{definitely not json", "wrong shape": b'{"schema_version": 1, "profile": [1, 2]}',
            "NaN shares": mutate(["shares"]), "NaN edges": mutate(["edges"]), "NaN grid edges": mutate(["grid", "edges"])}


def test_bad_profile_messages_among_good_ones(fault_stack, tmp_path, run_id, fault_result):
    traffic = Traffic(prefix=f"profiles-{run_id}", seed=61, windows=8)
    workers = Workers(worker_env(fault_stack, traffic.prefix, tmp_path), tmp_path)
    try:
        worker = workers.start()
        publish_profiles(fault_stack, traffic)
        topic = f"{traffic.prefix}.profiles"
        good = fault_stack.read_topic(topic, expect=traffic.models, timeout_s=20, settle_s=0)[0].value()
        bad = _bad_profiles(good)
        producer = Producer(fault_stack, traffic, duration_s=30)
        producer.start()
        publisher = fault_stack.producer()
        for m in range(traffic.models):  # every model gets every kind of bad profile, mid-stream
            for value in bad.values():
                publisher.produce(topic, key=traffic.model(m).encode(), value=value)
            publisher.flush(10)
            time.sleep(2)
        producer.finish()
        outcome = read_back(fault_stack, traffic)
        log = worker.log()
        rejected = [line for line in log.splitlines() if "rejected profile for model key" in line]
        lo, hi = traffic.base_ms // 1000 - 60, traffic.base_ms // 1000 + 7200
        drift_windows = {m: {k[0] for k in window_fields(fault_stack, "feature_drift", traffic.model(m), lo, hi)}
                         for m in range(traffic.models)}
        outcome.notes = (f"{len(rejected)}/{len(bad) * traffic.models} bad profiles rejected, naming the key; "
                         f"drift results in {sum(map(len, drift_windows.values()))}/{len(traffic.expected)} windows")
        fault_result("bad profile messages among good ones", outcome)
        assert not outcome.problems, outcome.problems[:10]
        assert len(rejected) == len(bad) * traffic.models, log[-3000:]
        assert all(f"'{traffic.model(m)}'" in "".join(rejected) for m in range(traffic.models))
        assert all("keeps its previous profile" in line for line in rejected)
        assert all(len(windows) == traffic.windows for windows in drift_windows.values())
        assert worker.proc.poll() is None
    finally:
        workers.stop_all()
