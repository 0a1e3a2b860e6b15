"""The SDK against a real broker that goes away while a service logs (stack test).

A service logs 1,000,000 events of 30 features at a steady 20,000 a second (50 s; in bursts of
100, sleeping in between as a service waits for requests). 10 s in, the broker of this test's own
stack (tests/driftline/conftest.py) is stopped, 30 s later started again; that is the 30 s of the
issue at a rate that fits 1M events into the run. Then: no call raised, none took longer than
1 ms but those the OS preempted (an involuntary context switch of the logging thread during the
call; counted and printed: on this 2-core machine a starting JVM and other test runs take the
CPU now and then), the buffer's overflow was dropped and counted, and
what the Monitor counts as sent is on the topic when the broker is back, each event once (the
producer is idempotent), the last one included.
"""

from __future__ import annotations

import os
import threading
import time
from resource import RUSAGE_THREAD, getrusage

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from driftline import Monitor
from streams.core.decoding import decode_message
from streams.settings import KafkaSettings

pytestmark = pytest.mark.stack

EVENTS, RATE, BURST = 1_000_000, 20_000, 100
STOP_AT_S, STOPPED_S = 10.0, 30.0
FEATURES = [{**{f"num_{i:02d}": round(k * 0.37 + i, 3) for i in range(25)}, **{f"cat_{i}": f"c{(k + i) % 7}"
                                                                               for i in range(5)}} for k in range(64)]


def _read_events(bootstrap: str, topic: str, expect: int, timeout_s: float = 120.0) -> list[str]:
    """Every event id on the topic (waits for `expect`, then 3 s more for any extra)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "sdk-outage-reader", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    ids: list[str] = []
    deadline, settle = time.time() + timeout_s, None
    try:
        while time.time() < deadline and (settle is None or time.time() < settle):
            for msg in consumer.consume(1000, timeout=0.2):
                if msg.error() is None:
                    decoded = decode_message(msg.value())
                    assert not decoded.rejects, decoded.rejects[:3]
                    ids += decoded.valid.event_ids if decoded.columns is not None else \
                        [e.event_id for e in decoded.valid]
            if settle is None and len(ids) >= expect:
                settle = time.time() + 3
    finally:
        consumer.close()
    return ids


def test_a_broker_away_for_30_s_costs_the_service_nothing_and_the_backlog_arrives(sdk_stack, figures):
    settings = KafkaSettings(_env_file=None, bootstrap_servers=sdk_stack.bootstrap, topic_prefix="sdk-outage")
    admin = AdminClient({"bootstrap.servers": sdk_stack.bootstrap})
    for future in admin.create_topics([NewTopic(settings.predictions_topic, 4, 1)]).values():
        future.result(30)
    monitor = Monitor("fraud", "3", settings=settings)
    outage: dict[str, float] = {}

    def broker_away() -> None:
        time.sleep(STOP_AT_S)
        outage["stopped"] = time.monotonic()
        sdk_stack.stop_kafka()
        time.sleep(STOPPED_S)
        outage["starting"] = time.monotonic()
        sdk_stack.start_kafka()
        outage["back"] = time.monotonic()

    away = threading.Thread(target=broker_away, daemon=True)
    durations = [0] * EVENTS
    refused, last = 0, None
    before_stop = None
    clock = time.perf_counter_ns
    began = time.monotonic()
    away.start()
    slow = []  # (s into the run, µs, voluntary and involuntary context switches during the call)
    for start in range(0, EVENTS, BURST):
        for i in range(start, start + BURST):
            r0 = getrusage(RUSAGE_THREAD)
            t = clock()
            last = monitor.log(FEATURES[i % 64], (i % 100) / 100, latency_ms=float(i % 17))
            d = durations[i] = clock() - t
            refused += last is None
            if d > 1_000_000:
                r1 = getrusage(RUSAGE_THREAD)
                slow.append((round(i / RATE, 1), d // 1000, r1.ru_nvcsw - r0.ru_nvcsw, r1.ru_nivcsw - r0.ru_nivcsw))
        if before_stop is None and "stopped" in outage:
            before_stop = monitor.stats
        time.sleep(max(0.0, began + (start + BURST) / RATE - time.monotonic()))  # the schedule
    logged_s = time.monotonic() - began
    during = monitor.stats
    away.join(120)
    left = monitor.flush(timeout=120)
    stats = monitor.close()

    # A call the OS took the CPU from (an involuntary switch: the machine's two cores are shared
    # with a JVM that starts, other test runs, librdkafka) is the machine's, also when it then
    # waited for the GIL (the other thread had asked for it meanwhile); one that only waited (for
    # the GIL: a voluntary switch) or ran long (say, a garbage collection) is the SDK's.
    preempted = [c for c in slow if c[3]]
    ours = [c for c in slow if not c[3]]
    ordered = sorted(durations)
    figures(f"sdk outage: {EVENTS:,} events logged in {logged_s:.0f} s, broker stopped "
            f"{outage['starting'] - outage['stopped']:.0f} s and back after {outage['back'] - outage['stopped']:.0f} s;"
            f" log() median {ordered[EVENTS // 2] / 1000:.1f} µs, p99 {ordered[int(EVENTS * 0.99)] / 1000:.1f} µs,"
            f" max {ordered[-1] / 1000:.0f} µs; {len(slow)} calls over 1 ms, {len(preempted)} of them preempted by"
            f" the OS ({sum(1 for c in preempted if c[2])} of those waited then), load {os.getloadavg()[0]:.1f};"
            f" sent {stats.sent:,}, dropped {stats.dropped:,}, failed {stats.failed:,}")
    assert not refused, "log() refused an event"
    assert not ours, f"log() calls over 1 ms that waited or ran long (s, µs, voluntary, involuntary): {ours}"
    assert left == 0 and stats.pending == 0 and stats.failed == 0 and stats.invalid == 0
    assert stats.sent + stats.dropped == EVENTS and stats.dropped > 0 and during.dropped > 0
    # The buffer held its 100,000 (and librdkafka what it had taken) through the outage.
    assert stats.sent >= before_stop.sent + 100_000
    delivered = _read_events(sdk_stack.bootstrap, settings.predictions_topic, stats.sent)
    assert len(delivered) == len(set(delivered)) == stats.sent
    assert last in set(delivered)  # the newest events are kept
