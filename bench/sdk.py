"""The producer SDK's own figures (part of `make bench`): what `Monitor.log` costs the service,
how many events a second it gets to a real broker, and what its envelopes cost the worker.

    .venv/bin/python -m bench.sdk [--events 300000] [--paced-seconds 5]

(a) log(): µs per call with 30 features (25 numbers, 5 strings), median, p99 and max, while the
    background thread sends to the broker: paced (a service at 20,000 events/s, in bursts of 100
    with sleeps between, as it waits for requests) and flat out (a loop that only logs, where the
    background thread has to take the GIL from it).
(b) events/s to the broker: --events logged flat out (the buffer holds them all, nothing is
    dropped), timed until the last delivery report; and the background thread alone: the same
    backlog drained once the loop is done.
(c) decoding in the worker (native decoder, decode_message): µs per event of the SDK's envelopes
    of 500 events against `{"events": [...]}` batches of the same 500 events, and the bytes per
    event of each; the Python fallback (msgspec) for comparison.

Needs a broker for (a) and (b): DRIFTLINE_BOOTSTRAP_SERVERS (deploy/run-bench.sh starts the local
stack). The run's topic `bench-sdk-<random>.predictions` is deleted at the end.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from collections import Counter

import orjson
from confluent_kafka.admin import AdminClient, NewTopic

from bench.events import CATEGORICAL, NUMERIC, EventPool
from driftline import Monitor
from driftline.envelopes import build
from schemas.columnar import NATIVE
from schemas.fast_path import fast_decode, fast_decode_envelope
from streams.core.decoding import decode_message
from streams.settings import KafkaSettings

PACED_RATE, BURST = 20_000, 100


def _quantiles(durations_ns: list[int]) -> str:
    ordered = sorted(durations_ns)
    n = len(ordered)
    return (f"median {ordered[n // 2] / 1000:5.2f} µs   p99 {ordered[int(n * 0.99)] / 1000:6.2f} µs   "
            f"max {ordered[-1] / 1000:7.0f} µs   ({n:,} calls)")


def _log_loop(monitor: Monitor, rows: list[dict], events: int, rate: float | None) -> list[int]:
    clock = time.perf_counter_ns
    durations = []
    began = time.monotonic()
    for start in range(0, events, BURST):
        for i in range(start, start + BURST):
            t = clock()
            monitor.log(rows[i % len(rows)], 0.5, latency_ms=3.0)
            durations.append(clock() - t)
        if rate:
            time.sleep(max(0.0, began + (start + BURST) / rate - time.monotonic()))
    return durations


def broker_figures(settings: KafkaSettings, rows: list[dict], events: int, paced_s: float) -> None:
    admin = AdminClient(settings.kafka_client_config())
    try:
        admin.list_topics(timeout=10)
    except Exception as exc:
        print(f"(a), (b): no broker at {settings.bootstrap_servers} ({exc}); skipped")
        return
    for future in admin.create_topics([NewTopic(settings.predictions_topic, 4, 1)]).values():
        future.result(30)
    try:
        with Monitor("bench", "1", settings=settings, buffer_events=events + 1_000) as monitor:
            print("(a) Monitor.log with 30 features, the background thread sending to the broker")
            paced = _log_loop(monitor, rows, int(paced_s * PACED_RATE), PACED_RATE)
            print(f"    paced, {PACED_RATE:,} events/s: {_quantiles(paced)}")
            monitor.flush(60)
            sent_before = monitor.stats.sent
            began = time.perf_counter()
            flat = _log_loop(monitor, rows, events, None)
            logged = time.perf_counter()
            backlog = events - (monitor.stats.sent - sent_before)
            left = monitor.flush(120)
            done = time.perf_counter()
            print(f"    flat out:              {_quantiles(flat)}")
            stats = monitor.stats
            sent = stats.sent - sent_before
            print(f"(b) {events:,} events logged flat out in {logged - began:.2f} s, all delivered after "
                  f"{done - began:.2f} s: {sent / (done - began):,.0f} events/s end to end "
                  f"(dropped {stats.dropped}, failed {stats.failed}, left {left})")
            print(f"    the background thread alone: {backlog / max(done - logged, 1e-9):,.0f} events/s "
                  f"(the {backlog:,} events not yet sent when the loop ended, drained in {done - logged:.2f} s)")
    finally:
        for future in admin.delete_topics([settings.predictions_topic]).values():
            try:
                future.result(30)
            except Exception as exc:
                print(f"cleanup: {exc}")


def _us_per_event(decode, raw: bytes, rounds: int, calls: int, events: int = 500) -> float:
    """The median over `rounds` of `calls` decodes of a message of `events` events."""
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(calls):
            decode(raw)
        times.append((time.perf_counter() - began) / (calls * events) * 1e6)
    return statistics.median(times)


def decode_figures(pool: EventPool) -> None:
    rows = [orjson.loads(pool.event(0, k, 1_700_000_000_000 + k)) for k in range(500)]
    batch = orjson.dumps({"events": rows})
    entries = [[r["event_id"], r["timestamp"], r["features"], r["prediction"], r["latency_ms"]] for r in rows]
    ((envelope, n),) = build("m0", "1", entries, Counter())
    assert n == 500 and not decode_message(envelope).rejects and not decode_message(batch).rejects
    print(f"(c) decoding 500 events of {len(NUMERIC) + len(CATEGORICAL)} features in the worker "
          f"({'native' if NATIVE else 'Python: the native decoder was not built'})")
    figures = {}
    for name, raw, python in (("envelope", envelope, fast_decode_envelope), ("batch", batch, fast_decode)):
        figures[name] = _us_per_event(decode_message, raw, rounds=7, calls=40)
        fallback = _us_per_event(python, raw, rounds=5, calls=4)
        print(f"    {name:<8} {figures[name]:5.2f} µs/event   {len(raw) / 500:5.0f} bytes/event   "
              f"(Python path {fallback:5.2f} µs/event)")
    print(f"    envelopes decode {figures['batch'] / figures['envelope']:.1f}× faster than batches")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.sdk", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=300_000, help="logged flat out for (b)")
    p.add_argument("--paced-seconds", type=float, default=5.0, help="of the paced run in (a)")
    args = p.parse_args(argv)
    pool = EventPool("sdk", ["m0"])
    settings = KafkaSettings(topic_prefix=f"bench-sdk-{secrets.token_hex(3)}")
    print(f"driftline SDK bench: Kafka {settings.bootstrap_servers}")
    broker_figures(settings, pool.rows, args.events, args.paced_seconds)
    decode_figures(pool)
    return 0


if __name__ == "__main__":
    sys.exit(main())
