"""The background thread of a Monitor: buffered events -> columnar envelopes -> Kafka.

Where an event can be, in the order it moves (each count is raised in the next place before it
is lowered in the last, so `outstanding` never misses an event): the Monitor's buffer (raw
entries) -> `in_hand` (being encoded) -> `pending` (encoded envelopes waiting for librdkafka) ->
`in_flight` (given to librdkafka, waiting for its delivery report) -> sent or failed. While the
broker is away librdkafka keeps what it holds (and retries, idempotently) for the delivery
timeout; `pending` grows up to `backlog_events` and then loses its oldest envelopes (dropped).

The GIL: this thread's Python work would stall the service's thread for as long as it runs
(up to the 5 ms switch interval once the service thread asks for the GIL). So the work is cut
into steps of at most a few hundred µs, and after 0.3 ms of them a real sleep hands the GIL back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from functools import partial
from typing import Any, Callable

from confluent_kafka import KafkaError, KafkaException

from driftline import envelopes

log = logging.getLogger("driftline.sdk")

_PAUSE_S = 0.0001  # a real block (not sleep(0), which can take the GIL straight back)
_TURN_S = 0.0003  # the longest this thread holds the GIL between two pauses (give or take a step)
_FEED_STEP = 2  # envelopes handed to librdkafka per step (each produce copies up to 0.5 MB)
_PURGED = {KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT}


class _Turns:
    """Called between steps: pauses once the thread has held the GIL for its turn (a pause after
    every step would cost more sleeping than working)."""

    def __init__(self) -> None:
        self.since = time.perf_counter()

    def __call__(self) -> None:
        if time.perf_counter() - self.since >= _TURN_S:
            time.sleep(_PAUSE_S)
            self.since = time.perf_counter()


class Sender:
    def __init__(self, model_id: str, model_version: str, buffer: deque, topic: str,
                 new_producer: Callable[[Callable[[KafkaError], None]], Any], *, batch_events: int, linger_s: float,
                 backlog_events: int, warn_once: Callable[[str, str], None]) -> None:
        self.model_id, self.model_version, self.buffer, self.topic = model_id, model_version, buffer, topic
        self.batch_events, self.linger_s, self.backlog_events = batch_events, linger_s, backlog_events
        self.warn_once = warn_once
        # Written by this thread only (delivery reports run in its poll()); read by stats().
        self.sent = self.failed = self.dropped = 0
        self.invalid: Counter = Counter()
        self.in_hand = self.pending_events = self.in_flight = 0
        self.pending: deque[tuple[bytes, int]] = deque()
        self.flush_until = 0.0  # monotonic time until which partial batches go out at once
        self.stopping = False
        self.wake = threading.Event()
        self._new_producer = new_producer
        self._producer = new_producer(self._on_error)
        self._fatal: KafkaError | None = None
        self._purged_are = "dropped"  # what a purged message counts as (failed after a fatal error)
        self._since: float | None = None  # when the buffer was first seen holding less than a batch
        self._turns = _Turns()
        self._thread = threading.Thread(target=self._run, name=f"driftline-monitor-{model_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        """Ends the thread: what is still undelivered is purged and counted as dropped."""
        self.stopping = True
        self.wake.set()
        self._thread.join(timeout_s)

    def outstanding(self) -> int:
        """Events logged and neither sent, failed nor dropped yet (read in the order they move)."""
        return len(self.buffer) + self.in_hand + self.pending_events + self.in_flight

    def _run(self) -> None:
        while True:
            try:
                if self._step():
                    self._turns()
                    continue
                if self.stopping:
                    break
                self.wake.wait(self.linger_s)
                self.wake.clear()
                self._turns.since = time.perf_counter()  # the wait handed the GIL over
            except Exception as exc:  # the thread must outlive any bug of ours: log, count, go on
                self.warn_once("internal", f"the background thread failed ({type(exc).__name__}: {exc}); "
                                           "it goes on")
                self.dropped += self.in_hand  # the events it was encoding
                self.in_hand = 0
                time.sleep(0.1)
        self._shutdown()

    def _step(self) -> bool:
        """One bounded piece of work; whether there was any."""
        self._producer.poll(0)  # delivery reports and errors
        if self._fatal is not None:
            self._replace_producer()
        if self._feed():
            return True
        if self._due():
            self._encode()
            return True
        return False

    def _due(self) -> bool:
        waiting = len(self.buffer)
        if not waiting:
            self._since = None
            return False
        if waiting >= self.batch_events or self.stopping or time.monotonic() < self.flush_until:
            return True
        now = time.monotonic()
        if self._since is None:
            self._since = now
        return now - self._since >= self.linger_s

    def _encode(self) -> None:
        n = min(len(self.buffer), self.batch_events)
        self.in_hand = n
        entries = []
        try:
            for _ in range(n):
                entries.append(self.buffer.popleft())
        except IndexError:  # log() dropped the oldest meanwhile (a full buffer)
            pass
        self._since = None
        kinds = len(self.invalid)
        built = envelopes.build(self.model_id, self.model_version, entries, self.invalid, pause=self._turns)
        if len(self.invalid) > kinds:
            for kind in self.invalid:
                self.warn_once(kind, f"events left out: {envelopes.WHY.get(kind, kind)}")
        for raw, k in built:
            self.pending.append((raw, k))
            self.pending_events += k
        self.in_hand = 0
        while self.pending_events > self.backlog_events:  # the broker is away for long: oldest out
            _, k = self.pending.popleft()
            self.pending_events -= k
            self.dropped += k
            self.warn_once("backlog_full", f"{self.backlog_events} events wait for the broker: dropping the "
                                           "oldest (counted in stats.dropped)")

    def _feed(self) -> bool:
        fed = 0
        while self.pending and fed < _FEED_STEP:
            raw, k = self.pending[0]
            try:
                self._producer.produce(self.topic, raw, on_delivery=partial(self._delivered, k))
            except BufferError:  # librdkafka holds its maximum: wait for deliveries
                break
            except KafkaException as exc:  # refused outright (say, an unknown topic): waiting will not help
                self.pending.popleft()
                self.pending_events -= k
                self.failed += k
                self.warn_once(f"produce:{exc.args[0].code() if exc.args else ''}",
                               f"could not send {k} events to {self.topic}: {exc}")
                continue
            self.in_flight += k
            self.pending.popleft()
            self.pending_events -= k
            fed += 1
        return fed > 0

    def _delivered(self, events: int, err: KafkaError | None, _msg) -> None:
        if err is None:
            self.sent += events
        elif err.code() in _PURGED and self._purged_are == "dropped":
            self.dropped += events
        else:
            self.failed += events
            self.warn_once(f"delivery:{err.code()}", f"{events} events could not be delivered to {self.topic}: "
                                                     f"{err.str()} (counted in stats.failed)")
        self.in_flight -= events

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err
        self.warn_once(f"kafka:{err.code()}", f"Kafka: {err.str()} (events are kept for the broker, up to the "
                                              "buffer's size)")

    def _replace_producer(self) -> None:
        """A fatal error (an idempotence failure) leaves the producer unusable: what it held is
        failed, and a new one takes over."""
        old, self._fatal = self._producer, None
        self._purged_are = "failed"
        old.purge()
        old.poll(0)
        self._purged_are = "dropped"
        self._producer = self._new_producer(self._on_error)

    def _shutdown(self) -> None:
        self._producer.purge()
        self._producer.poll(0)  # the purged messages' reports: dropped
        self._producer.flush(0)
        # Whatever is left (reports librdkafka never gave included) was not delivered by us.
        left = len(self.buffer) + self.pending_events + self.in_flight
        self.buffer.clear()
        self.pending.clear()
        self.pending_events = self.in_flight = 0
        self.dropped += left
