"""`Monitor`: an inference service logs its predictions to driftline without being slowed down.

    from driftline import Monitor

    monitor = Monitor("fraud", model_version="3")
    event_id = monitor.log({"amount": 12.5, "country": "DE"}, 0.93, latency_ms=4.2)
    ...
    monitor.close()  # or `with Monitor(...) as monitor:`; at exit it is closed anyway

`log()` appends to a bounded in-memory buffer and returns (a few µs): it never blocks and never
raises, not when Kafka is down, not when the buffer is full (the oldest event is dropped), not on
bad input (the event is left out). Each of these is counted (`stats`) and logged once per kind
(logger `driftline.sdk`). A background thread sends the events as columnar envelopes
(schemas/envelope.py) to `<DRIFTLINE_TOPIC_PREFIX>.predictions` with an idempotent,
lz4-compressing confluent-kafka producer. Settings: the DRIFTLINE_* environment (or
`.driftline.env`) that the worker reads: brokers, topic prefix and Kafka security.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
import time
import uuid
import weakref
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable

import orjson
from pydantic import ValidationError

from driftline.allocator import keep_memory
from driftline.ids import new_event_id
from driftline.sender import Sender
from schemas.prediction import event_time_ms
from streams.errors import DriftlineError
from streams.settings import KafkaSettings

log = logging.getLogger("driftline.sdk")
_now_ns = time.time_ns
_dumps = orjson.dumps
_NUMPY = orjson.OPT_SERIALIZE_NUMPY  # numpy scalars as numbers (arrays too, which are then refused)


@dataclass(frozen=True)
class MonitorStats:
    """What became of the events logged so far. Once closed, every logged event is counted in
    exactly one of sent, dropped, failed and invalid; before, the rest is `pending`."""

    sent: int  # delivered to Kafka
    dropped: int  # pushed out of a full buffer, or still undelivered at close, or logged after it
    failed: int  # refused by Kafka, or not delivered within the delivery timeout
    invalid: int  # not a valid event (see invalid_by_kind)
    pending: int  # in the buffer or on its way
    invalid_by_kind: Mapping[str, int] = field(default_factory=dict)


# Events per envelope by default: the worker pays a fixed cost per Kafka message, so its rate on
# envelopes grows with their size (bench.throughput, one run, 30 features: 500 events 268,557/s,
# 1,000 334,079/s, 1,500 371,457/s, 2,000 389,848/s). 1,500 events of 30 features are ~0.4 MB,
# under ENVELOPE_BYTES; wider events are split to fit (driftline/envelopes.py).
BATCH_EVENTS = 1_500


class Monitor:
    """Logs the predictions of one model version (see the module docstring).

    buffer_events: how many events may wait in memory for the background thread (as JSON,
        about 0.6 KB each at 30 features), and again (in envelopes, about 0.3 KB each) for the
        broker while it is away.
    batch_events, linger_ms: an envelope holds up to batch_events events, and is sent at the
        latest linger_ms after its first event was logged.
    delivery_timeout_s: how long librdkafka retries an envelope before it counts as failed.
    close_timeout_s: how long close() (and the exit of the interpreter) waits for deliveries.
    tune_allocator: tell glibc's malloc to keep the memory it has (allocator.py: otherwise the
        background thread's envelopes make log() calls wait for the kernel now and then).
    """

    def __init__(self, model_id: str, model_version: str = "", *, settings: KafkaSettings | None = None,
                 buffer_events: int = 100_000, batch_events: int = BATCH_EVENTS, linger_ms: float = 50,
                 delivery_timeout_s: float = 300, close_timeout_s: float = 5,
                 producer_config: Mapping[str, Any] | None = None,
                 producer_factory: Callable[[dict], Any] | None = None, tune_allocator: bool = True) -> None:
        if not isinstance(model_id, str) or not model_id or not isinstance(model_version, str):
            raise DriftlineError("Monitor needs a non-empty model_id and a string model_version")
        if buffer_events < 1 or batch_events < 1 or linger_ms < 0:
            raise DriftlineError("buffer_events and batch_events must be >= 1, linger_ms >= 0")
        try:
            settings = settings or KafkaSettings()
        except ValidationError as exc:
            raise DriftlineError(f"driftline settings: {exc}") from None
        self.model_id, self.model_version = model_id, model_version
        if tune_allocator:
            keep_memory()
        self.close_timeout_s = close_timeout_s
        self._capacity = buffer_events
        # No maxlen: its silent eviction would go uncounted when threads race at a full buffer;
        # log() drops the oldest itself (a race lets it hold one more event per logging thread).
        self._buffer: deque = deque()
        self._lock = threading.Lock()  # for the counters log() writes (only on the rare paths)
        self._dropped = 0
        self._invalid: Counter = Counter()
        self._warned: set[str] = set()
        self._closed = False
        self._rows = threading.local()  # log()'s reusable row, one per logging thread
        config = {**settings.kafka_client_config(), "compression.type": "lz4", "enable.idempotence": True,
                  "linger.ms": 10, "message.timeout.ms": int(delivery_timeout_s * 1000),
                  # What librdkafka may hold (retrying while the broker is away); the rest waits in
                  # our backlog, which drops its oldest when full.
                  "queue.buffering.max.messages": 64, "queue.buffering.max.kbytes": 64 * 1024,
                  **(producer_config or {})}
        factory = _confluent_producer if producer_factory is None else producer_factory

        def new_producer(on_error):
            try:
                return factory({**config, "error_cb": on_error})
            except Exception as exc:  # confluent raises KafkaException for a bad property
                raise DriftlineError(f"Kafka producer: {exc}") from None

        self._sender = Sender(model_id, model_version, self._buffer, settings.predictions_topic, new_producer,
                              batch_events=batch_events, linger_s=linger_ms / 1000, backlog_events=buffer_events,
                              warn_once=self._warn_once)
        self._sender.start()
        _LIVE.add(self)

    def log(self, features: Mapping[str, Any], prediction: Any, *, latency_ms: float | None = None,
            event_id: str | None = None, timestamp: int | dt.datetime | None = None) -> str | None:
        """Queue one prediction; returns its event id (a uuid4 hex unless given: what a label
        for it must name), None if the event was refused. timestamp: epoch milliseconds or a
        datetime, naive ones taken as UTC (default: now)."""
        try:
            if self._closed:
                return self._drop("closed", "log() after close(): the event is dropped")
            if features.__class__ is not dict and not isinstance(features, Mapping):
                return self._refuse("features", "features must be a mapping of name to value")
            if event_id is None:
                event_id = new_event_id()
            elif event_id.__class__ is not str or not event_id:
                event_id = _as_event_id(event_id)
                if event_id is None:
                    return self._refuse("event_id", "event_id must be a non-empty string")
            if timestamp is None:
                timestamp = _now_ns() // 1_000_000
            elif timestamp.__class__ is not int and isinstance(timestamp, dt.datetime):
                timestamp = event_time_ms(timestamp)
            # The entry is bytes, not the objects: a snapshot of a dict the caller may reuse, a
            # third of the memory, and nothing for the garbage collector to track (a buffer of
            # tuples that hold dicts makes full collections of ~15 ms land inside log() calls).
            # It is serialised from a row this thread reuses: log() allocates no object the
            # collector counts, so no collection can start inside it.
            try:
                row = self._rows.row
            except AttributeError:  # this thread's first event
                row = self._rows.row = [None] * 5
            row[0] = event_id
            row[1] = timestamp
            row[2] = features
            row[3] = prediction
            row[4] = latency_ms
            try:
                entry = _dumps(row, option=_NUMPY)
            except Exception:  # not JSON as it is (say, a non-string key): the background thread judges it
                entry = [event_id, timestamp, dict(features), prediction, latency_ms]
            row[2] = row[3] = None  # the caller's objects are not kept alive by the row
            buffer = self._buffer
            if len(buffer) >= self._capacity:
                self._drop_oldest()
            buffer.append(entry)
            return event_id
        except Exception as exc:  # never into the service
            return self._refuse("internal", f"log() failed: {type(exc).__name__}: {exc}")

    def flush(self, timeout: float = 10.0) -> int:
        """Sends what is buffered now and waits until it is delivered, at most `timeout` seconds;
        returns how many events are still on their way (0: all delivered, failed or dropped)."""
        deadline = time.monotonic() + max(timeout, 0)
        sender = self._sender
        sender.flush_until = max(sender.flush_until, deadline)
        sender.wake.set()
        while (left := sender.outstanding()) and time.monotonic() < deadline:
            time.sleep(0.005)
        return left

    def close(self, timeout: float | None = None) -> MonitorStats:
        """Flushes (at most `timeout`, default close_timeout_s), then stops the background thread;
        what is still undelivered then is dropped. Idempotent."""
        timeout = self.close_timeout_s if timeout is None else timeout
        began = time.monotonic()
        if not self._closed:
            self.flush(timeout)
            self._closed = True  # after the flush: events logged meanwhile by other threads still go
            self._sender.stop(max(timeout - (time.monotonic() - began), 0) + 1.0)
            _LIVE.discard(self)
        return self.stats

    @property
    def stats(self) -> MonitorStats:
        s = self._sender
        with self._lock:
            invalid = self._invalid + s.invalid
            dropped = self._dropped
        return MonitorStats(sent=s.sent, dropped=dropped + s.dropped, failed=s.failed,
                            invalid=sum(invalid.values()), pending=s.outstanding(),
                            invalid_by_kind=MappingProxyType(dict(invalid)))

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Monitor({self.model_id!r}, model_version={self.model_version!r})"

    def _drop_oldest(self) -> None:
        try:
            self._buffer.popleft()
        except IndexError:  # the background thread emptied it meanwhile
            return
        self._drop("buffer_full", f"the buffer of {self._capacity} events is full: dropping the oldest "
                                  "(the broker is away, or events come faster than they can be sent)")

    def _drop(self, kind: str, message: str) -> None:
        with self._lock:
            self._dropped += 1
        self._warn_once(kind, message)

    def _refuse(self, kind: str, message: str) -> None:
        with self._lock:
            self._invalid[kind] += 1
        self._warn_once(kind, message)

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            try:
                log.warning("monitor %s/%s: %s (logged once; see Monitor.stats)", self.model_id,
                            self.model_version or "unversioned", message)
            except Exception:  # a broken logging handler must not reach the service either
                pass


def _as_event_id(value: object) -> str | None:
    """An id given as an int or a UUID is taken as its string; anything else is refused."""
    if isinstance(value, uuid.UUID) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    if isinstance(value, str) and value:
        return str(value)
    return None


def _confluent_producer(config: dict):
    from confluent_kafka import Producer

    return Producer(config)


_LIVE: "weakref.WeakSet[Monitor]" = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Monitors still open when the interpreter exits deliver what they can, within their
    close timeout (so a service that forgot close() does not lose its last events)."""
    for monitor in list(_LIVE):
        try:
            monitor.close()
        except Exception:
            pass
