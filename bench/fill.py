"""Topics of one run: create, fill with events (single or batched), delete."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.events import EventPool, Timeline
from streams.settings import Settings
from streams.kafka.topics import ensure_topics


@dataclass
class Filled:
    """What one fill mode put on its predictions topic."""

    mode: str
    prefix: str
    topic: str
    models: list[str]
    batch: int
    events: int  # real events, sentinels not included
    messages: int = 0  # Kafka messages, sentinels included
    sentinels: int = 0
    seconds: float = 0.0
    partitions: dict[str, int] = field(default_factory=dict)


def create_topics(bootstrap: str, prefix: str) -> str:
    """The run's predictions, alerts, DLQ and profiles topics, as the worker itself would create them."""
    settings = Settings(bootstrap_servers=bootstrap, topic_prefix=prefix, topic_partitions=4)
    ensure_topics(settings)
    return settings.predictions_topic


def producer(bootstrap: str) -> Producer:
    return Producer({
        "bootstrap.servers": bootstrap,
        "compression.type": "lz4",
        "linger.ms": 50,
        "batch.size": 4 * 1024 * 1024,
        "batch.num.messages": 100_000,
        "message.max.bytes": 8 * 1024 * 1024,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1024 * 1024,
        "acks": "all",
        "enable.idempotence": True,  # keeps each partition in produce order (event time increasing)
    })


class _Sender:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.producer = producer(bootstrap)
        self.errors: list[str] = []
        self.sent = 0

    def _delivered(self, err, msg) -> None:
        if err is not None and len(self.errors) < 5:
            self.errors.append(str(err))

    def send(self, key: bytes, value: bytes, partition: int) -> None:
        while True:
            try:
                self.producer.produce(self.topic, value, key, partition=partition, on_delivery=self._delivered)
                self.sent += 1
                return
            except BufferError:  # local queue full: let librdkafka send some
                self.producer.poll(0.05)

    def finish(self, timeout_s: float = 120.0) -> None:
        left = self.producer.flush(timeout_s)
        if left or self.errors:
            raise KafkaException(f"producing to {self.topic} failed: {left} undelivered, errors {self.errors}")


def fill(bootstrap: str, filled: Filled, pool: EventPool, timeline: Timeline, console, spread: bool = False,
         envelopes: bool = False) -> Filled:
    """Produce `filled.events` events, then one sentinel per model (same key, so same partition).

    Model i is pinned to partition i (of 4), so every partition carries events: with key hashing
    keys would share a partition now and then, and the layout would differ from run to run. An
    empty partition is a fixed cost at start (quiet start, then the idle grace before the merge may
    pass it), not a throughput. `spread`: each model's messages rotate over all four partitions
    instead (as with random keys), and every partition gets each model's sentinel.
    """
    n, batch = filled.events, filled.batch
    keys = [m.encode() for m in filled.models]
    nmodels = len(keys)
    filled.partitions = {m: i for i, m in enumerate(filled.models)}
    where = (lambda j, m: (j // nmodels + m) % 4) if spread else (lambda j, m: m)
    sender = _Sender(bootstrap, filled.topic)
    t0 = time.perf_counter()
    with Progress(TextColumn(f"fill [bold]{filled.mode}[/]"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("events"), TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("fill", total=n)
        event = pool.event
        at = timeline.at
        if batch == 1:
            for i in range(n):
                m = i % nmodels
                sender.send(keys[m], event(m, i, at(i)), where(i, m))
                if i % 20_000 == 0:
                    sender.producer.poll(0)
                    progress.update(task, completed=i)
        else:
            for j, lo in enumerate(range(0, n, batch)):
                m = j % nmodels
                hi = min(n, lo + batch)
                value = (pool.envelope(m, lo, hi, at) if envelopes
                         else b'{"events":[' + b",".join([event(m, i, at(i)) for i in range(lo, hi)]) + b"]}")
                sender.send(keys[m], value, where(j, m))
                if j % 20 == 0:
                    sender.producer.poll(0)
                    progress.update(task, completed=hi)
        for m in range(nmodels):
            for p in (range(4) if spread else [m]):
                one = event(m, n + m * 4 + p, timeline.sentinel_ms)
                sender.send(keys[m], one if batch == 1 else b'{"events":[' + one + b"]}", p)
        progress.update(task, completed=n)
        sender.finish()
    filled.seconds = time.perf_counter() - t0
    filled.messages = sender.sent
    filled.sentinels = nmodels * (4 if spread else 1)
    return filled


def publish_profiles(bootstrap: str, prefix: str, models: list[str], pool: EventPool) -> None:
    p = Producer({"bootstrap.servers": bootstrap})
    for m in models:
        p.produce(f"{prefix}.profiles", pool.profile_payload(m), m.encode())
    if p.flush(30):
        raise KafkaException("could not publish the reference profiles")


def delete_run(bootstrap: str, tag: str, groups: list[str]) -> list[str]:
    """Delete every topic whose name starts with the run's tag, and the run's consumer groups."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [t for t in admin.list_topics(timeout=15).topics if t.startswith(tag)]
    problems = []
    if topics:
        for topic, future in admin.delete_topics(topics, operation_timeout=30).items():
            try:
                future.result()
            except Exception as exc:
                problems.append(f"topic {topic}: {exc}")
    if groups:
        for group, future in admin.delete_consumer_groups(groups, request_timeout=15).items():
            try:
                future.result()
            except Exception as exc:
                if "GROUP_ID_NOT_FOUND" not in str(exc):
                    problems.append(f"group {group}: {exc}")
    return problems
