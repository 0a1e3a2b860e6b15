"""The SDK's Monitor with a fake producer: what log() costs, what it buffers, drops and refuses,
and that every logged event ends counted exactly once."""

import gc
import logging
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from confluent_kafka import KafkaError, KafkaException

import driftline.monitor
from driftline import Monitor
from driftline import envelopes as envelope_module
from schemas import PredictionEnvelope
from streams.core.decoding import decode_message
from streams.errors import DriftlineError
from streams.settings import KafkaSettings

from tests.driftline.fakes import FakeProducer

# A port nothing listens on: should a real producer ever be made here, it reaches no broker.
SETTINGS = KafkaSettings(_env_file=None, bootstrap_servers="127.0.0.1:9", topic_prefix="sdk-test")
FEATURES = {**{f"num_{i:02d}": float(i) * 1.5 for i in range(25)}, **{f"cat_{i}": f"c{i}" for i in range(5)}}


def _monitor(producer: FakeProducer, **kw) -> Monitor:
    return Monitor("fraud", "3", settings=SETTINGS, producer_factory=producer, linger_ms=kw.pop("linger_ms", 5), **kw)


def _events(producer: FakeProducer) -> list:
    """What the worker makes of everything delivered (asserting it rejects none of it)."""
    out = []
    for value in producer.delivered:
        decoded = decode_message(value)
        assert not decoded.rejects, decoded.rejects
        valid = decoded.valid
        out += valid.event_ids if decoded.columns is not None else [e.event_id for e in valid]
    return out


def _settled(stats) -> int:
    return stats.sent + stats.dropped + stats.failed + stats.invalid


def test_events_arrive_as_envelopes_the_worker_accepts_and_are_counted_as_sent():
    producer = FakeProducer()
    monitor = _monitor(producer)
    ids = [monitor.log(FEATURES, 0.5, latency_ms=3.0) for _ in range(3_456)]
    assert monitor.flush(5) == 0
    assert _events(producer) == ids and len(set(ids)) == len(ids)
    assert len(producer.delivered) >= 3  # up to BATCH_EVENTS (1,500) events per envelope
    stats = monitor.close()
    assert (stats.sent, stats.dropped, stats.failed, stats.invalid, stats.pending) == (3_456, 0, 0, 0, 0)
    assert producer.config["compression.type"] == "lz4" and producer.config["enable.idempotence"] is True


def test_given_ids_times_and_values_are_what_the_worker_reads():
    producer = FakeProducer()
    with _monitor(producer) as monitor:
        monitor.log({"a": np.float32(0.5), "b": "x", "n": float("nan"), "i": np.int64(3)}, np.float64(0.25),
                    latency_ms=np.float64(2.0), event_id="req-1", timestamp=1_700_000_000_123)
        monitor.flush(5)
    (value,) = producer.delivered
    (row,) = PredictionEnvelope.model_validate_json(value).rows()
    assert row["event_id"] == "req-1" and row["timestamp"] == 1_700_000_000_123 and row["model_version"] == "3"
    assert row["features"] == {"a": 0.5, "b": "x", "n": None, "i": 3} and row["prediction"] == 0.25


BAD = [
    (dict(features=None, prediction=1), "features"),
    (dict(features=[1, 2], prediction=1), "features"),
    (dict(features={"a": [1]}, prediction=1), "features"),
    (dict(features={1: 2.0}, prediction=1), "features"),
    (dict(features={"a": 1}, prediction=object()), "prediction"),
    (dict(features={"a": 1}, prediction=float("nan")), "prediction"),
    (dict(features={"a": 1}, prediction={"yes": True}), "prediction"),
    (dict(features={"a": 1}, prediction=None), "prediction"),
    (dict(features={"a": 1}, prediction=1, latency_ms=-1), "latency_ms"),
    (dict(features={"a": 1}, prediction=1, latency_ms="fast"), "latency_ms"),
    (dict(features={"a": 1}, prediction=1, timestamp="yesterday"), "timestamp"),
    (dict(features={"a": 1}, prediction=1, timestamp=1.5), "timestamp"),
    (dict(features={"a": 1}, prediction=1, event_id=""), "event_id"),
    (dict(features={"a": 1}, prediction=1, event_id=2.5), "event_id"),
    (dict(features={"a": "\ud800"}, prediction=1), "unencodable"),
    (dict(features={"a": "x" * 600_000}, prediction=1), "too_large"),
]


def test_bad_input_never_raises_is_counted_by_kind_and_logged_once(caplog):
    producer = FakeProducer()
    monitor = _monitor(producer)
    with caplog.at_level(logging.WARNING, logger="driftline.sdk"):
        for kwargs, _ in BAD * 2:
            features, prediction = kwargs.pop("features"), kwargs.pop("prediction")
            monitor.log(features, prediction, **kwargs)
            kwargs.update(features=features, prediction=prediction)
        good = monitor.log({"a": 1}, 1)
        monitor.flush(5)
    stats = monitor.close()
    expected = {}
    for _, kind in BAD:
        expected[kind] = expected.get(kind, 0) + 2
    assert dict(stats.invalid_by_kind) == expected and stats.invalid == 2 * len(BAD)
    assert _events(producer) == [good] and stats.sent == 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "driftline.sdk"]
    assert len(warnings) == len(expected)  # once per kind


def test_ids_given_as_numbers_or_uuids_are_taken_as_strings():
    import uuid

    producer = FakeProducer()
    with _monitor(producer) as monitor:
        u = uuid.uuid4()
        assert monitor.log({"a": 1}, 1, event_id=17) == "17" and monitor.log({"a": 1}, 1, event_id=u) == str(u)
        monitor.flush(5)
    assert _events(producer) == ["17", str(u)]


def test_a_full_buffer_drops_the_oldest_and_the_backlog_goes_out_when_the_broker_is_back():
    producer = FakeProducer(capacity=2)
    producer.up = False
    monitor = _monitor(producer, buffer_events=1_000, batch_events=100)
    ids = [monitor.log(FEATURES, 0.5) for _ in range(10_000)]
    time.sleep(0.3)
    during = monitor.stats
    assert during.sent == 0 and during.dropped > 0 and _settled(during) + during.pending == 10_000
    producer.up = True
    assert monitor.flush(5) == 0
    stats = monitor.close()
    assert stats.sent + stats.dropped == 10_000 and stats.failed == stats.invalid == 0
    delivered = _events(producer)
    assert len(delivered) == stats.sent <= 1_000 + 2 * 100 + 100  # backlog + librdkafka's + one in hand
    assert delivered[-1] == ids[-1]  # the newest is kept, the oldest went first
    assert delivered == sorted(delivered, key=ids.index)  # in the order logged


def test_delivery_failures_and_refusals_are_counted_as_failed_and_the_thread_goes_on():
    producer = FakeProducer()
    producer.error = KafkaError(KafkaError._MSG_TIMED_OUT)
    monitor = _monitor(producer)
    for _ in range(700):
        monitor.log(FEATURES, 1)
    monitor.flush(5)
    producer.error = None
    producer.refuse = KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
    for _ in range(10):
        monitor.log(FEATURES, 1)
    monitor.flush(5)
    producer.refuse = None
    last = monitor.log(FEATURES, 1)
    monitor.flush(5)
    stats = monitor.close()
    assert (stats.failed, stats.sent) == (710, 1) and _events(producer) == [last]


def test_the_background_thread_survives_a_bug_of_its_own(monkeypatch, caplog):
    producer = FakeProducer()
    monitor = _monitor(producer)
    real = envelope_module.build
    calls = []

    def broken_once(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return real(*args, **kw)

    monkeypatch.setattr(envelope_module, "build", broken_once)
    with caplog.at_level(logging.WARNING, logger="driftline.sdk"):
        monitor.log(FEATURES, 1)
        time.sleep(0.3)
        kept = monitor.log(FEATURES, 1)
        monitor.flush(5)
    stats = monitor.close()
    assert (stats.dropped, stats.sent) == (1, 1) and _events(producer) == [kept]
    assert any("a bug" in r.getMessage() for r in caplog.records)


def test_after_close_every_event_is_counted_once_and_log_drops_quietly():
    producer = FakeProducer()
    producer.up = False
    monitor = _monitor(producer, buffer_events=5_000)
    for i in range(3_000):
        monitor.log(FEATURES if i % 7 else None, 1)
    stats = monitor.close(timeout=0.2)  # the broker never comes: the rest is dropped
    assert _settled(stats) == 3_000 and stats.pending == 0 and stats.sent == 0
    assert monitor.log(FEATURES, 1) is None and monitor.stats.dropped == stats.dropped + 1
    assert monitor.close() == monitor.stats  # idempotent


def test_many_threads_may_log_at_once():
    producer = FakeProducer()
    monitor = _monitor(producer, buffer_events=100_000)
    threads = [threading.Thread(target=lambda: [monitor.log(FEATURES, 1) for _ in range(5_000)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monitor.flush(10)
    stats = monitor.close()
    assert stats.sent == 20_000 and len(set(_events(producer))) == 20_000


def test_open_monitors_are_flushed_at_exit():
    producer = FakeProducer()
    monitor = _monitor(producer, linger_ms=10_000)
    monitor.log(FEATURES, 1)
    driftline.monitor._close_at_exit()
    assert monitor.stats.sent == 1 and monitor.log(FEATURES, 1) is None


def test_log_figures(figures):
    """Prints what log() costs here (the figure, not a check: timings are the bench's, bench/sdk.py;
    a loaded machine must not fail the suite)."""
    producer = FakeProducer()
    monitor = _monitor(producer, buffer_events=200_000)
    durations = []
    clock = time.perf_counter_ns
    for _ in range(20_000):
        began = clock()
        monitor.log(FEATURES, 0.5, latency_ms=3.0)
        durations.append(clock() - began)
    monitor.close()
    median = statistics.median(durations) / 1000
    figures(f"sdk: log() with 30 features (fake producer): median {median:.2f} µs")
    assert monitor.stats.sent + monitor.stats.dropped == 20_000


def test_log_allocates_nothing_the_garbage_collector_counts():
    """A collection starts when an allocation finds the young generation full; log() makes no
    such allocation, so none of the service's collections (a full one takes milliseconds in a big
    process) can land inside a log() call. Checked with the young generation kept exactly full."""
    monitor = _monitor(FakeProducer(), linger_ms=60_000, batch_events=100_000)
    monitor.log(FEATURES, 0.5, latency_ms=3.0)  # this thread's first event makes its row
    started: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(info["generation"])

    threshold = gc.get_threshold()
    _, older, oldest = threshold
    gc.callbacks.append(seen)
    try:
        for k in range(50):
            gc.set_threshold(*threshold)
            keep = None  # (its lists freed after the collection would refill the free list)
            gc.collect()  # empties CPython's free lists too: a new list or tuple now counts
            keep = [[] for _ in range(100)]  # tracked and alive: the young generation fills up
            del started[:]
            # The next tracked allocation collects (no *args here: that call would free a list).
            gc.set_threshold(gc.get_count()[0], older, oldest)
            monitor.log(FEATURES, k / 50, latency_ms=3.0, timestamp=1_700_000_000_000 + k)
            in_log = len(started)
            control = set()  # a tracked allocation (sets have no free list): the generation was full
            collected = len(started)
            assert in_log == 0 and collected == 1, (k, in_log, collected, control, keep[:0])
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(seen)
    assert monitor.close().sent == 51


def test_bad_construction_is_a_driftline_error():
    with pytest.raises(DriftlineError):
        Monitor("", settings=SETTINGS, producer_factory=FakeProducer())
    with pytest.raises(DriftlineError):
        Monitor("m", settings=SETTINGS, producer_config={"no.such.property": 1})


def test_importing_the_sdk_leaves_the_worker_out():
    code = "import sys, driftline; print(sorted({'faust', 'scipy', 'river', 'aiokafka'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
