"""The alerts topic to the targets, at least once: a consumer group of its own, every event handed
to every target (retried with backoff until it succeeds), and its offset committed only then.

A failing target is logged and retried; it holds back later events for the same group (events stay
in order), never the worker, and an event is never skipped: after a crash or a stop the group
resumes at its last commit, so an event may arrive twice but never not at all (targets key on
`alert_id` to drop repeats). A new group starts `since_hours` back (or at the beginning).
Alertmanager targets rebuild their open incidents from the events before the group's position.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from pydantic import ValidationError

from schemas import DriftAlert
from streams.errors import DriftlineError
from streams.notify.errors import DeliveryFailed
from streams.settings import Settings

log = logging.getLogger("driftline.notify")


class Target(Protocol):
    name: str

    def deliver(self, alert: DriftAlert, raw: bytes) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: first_s, doubling, capped at max_s."""

    first_s: float = 1.0
    max_s: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.max_s, self.first_s * 2 ** max(0, attempt - 1))


def deliver_until_done(target: Target, alert: DriftAlert, raw: bytes, *, backoff: Backoff,
                       stop: threading.Event, wait: Callable[[float], bool] | None = None) -> bool:
    """Hand one event to one target, retrying until it succeeds (True) or `stop` is set (False)."""
    wait = wait or stop.wait
    attempt = 0
    while not stop.is_set():
        attempt += 1
        try:
            target.deliver(alert, raw)
            if attempt > 1:
                log.info("%s took %s after %d attempts", target.name, alert.alert_id[:12], attempt)
            return True
        except DeliveryFailed as exc:
            delay = backoff.delay(attempt)
            log.warning("%s failed for %s %s (attempt %d, next in %.0f s): %s", target.name, alert.status,
                        alert.dedup_key or alert.alert_id, attempt, delay, exc)
            wait(delay)
    return False


class Notifier:
    """Consumes the alerts topic in group `group` and delivers every event to `targets`."""

    def __init__(self, settings: Settings, targets: Sequence[Target], *, group: str, since_hours: float = 1.0,
                 from_beginning: bool = False, backoff: Backoff = Backoff(), keep_alive_s: float = 60.0,
                 stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.targets = list(targets)
        self.group = group
        self.since_hours = since_hours
        self.from_beginning = from_beginning
        self.backoff = backoff
        self.keep_alive_s = keep_alive_s
        self.stop = stop or threading.Event()
        self.delivered = 0
        self._consumer: Consumer | None = None

    def run(self) -> None:
        """Until `stop` is set (SIGTERM / Ctrl-C in the CLI)."""
        topic = self.settings.alerts_topic
        consumer = Consumer({**self.settings.kafka_client_config(), "group.id": self.group,
                             "enable.auto.commit": False, "auto.offset.reset": "earliest",
                             # a target may fail for hours: the group keeps the partitions meanwhile
                             "max.poll.interval.ms": 86_400_000})
        self._consumer = consumer
        try:
            consumer.subscribe([topic], on_assign=self._on_assign)
            next_keep_alive = time.monotonic() + self.keep_alive_s
            while not self.stop.is_set():
                msg = consumer.poll(0.5)
                if time.monotonic() >= next_keep_alive:
                    self._keep_alive()
                    next_keep_alive = time.monotonic() + self.keep_alive_s
                if msg is None:
                    continue
                if msg.error() is not None:
                    if msg.error().fatal():
                        raise DriftlineError(f"alerts consumer failed: {msg.error()}")
                    continue
                if self._handle(msg.value(), msg.partition(), msg.offset()):
                    consumer.commit(message=msg, asynchronous=False)
        except KafkaException as exc:
            raise DriftlineError(f"alerts consumer failed: {exc}") from exc
        finally:
            consumer.close()

    def _handle(self, raw: bytes, partition: int, offset: int) -> bool:
        """True when the event is done with (delivered everywhere, or unreadable and skipped)."""
        try:
            alert = DriftAlert.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors(include_input=False)[0]
            log.error("skipping an unreadable alert at partition %d offset %d: %s %s", partition, offset,
                      ".".join(map(str, first["loc"])), first["msg"])
            return True
        for target in self.targets:
            if not deliver_until_done(target, alert, raw, backoff=self.backoff, stop=self.stop):
                return False
        self.delivered += 1
        log.info("delivered %s %s (%s) to %d target(s)", alert.status, alert.dedup_key or alert.feature,
                 alert.alert_id[:12], len(self.targets))
        return True

    def _keep_alive(self) -> None:
        for target in self.targets:
            keep_alive = getattr(target, "keep_alive", None)
            if keep_alive is None:
                continue
            try:
                keep_alive()
            except DeliveryFailed as exc:
                log.warning("%s keep-alive failed (next in %.0f s): %s", target.name, self.keep_alive_s, exc)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Start where the group committed; a new group `since_hours` back (or at the beginning).
        Targets that keep incident state replay what came before that position."""
        committed = consumer.committed(partitions, timeout=30)
        since_ms = int((time.time() - self.since_hours * 3600) * 1000)
        fresh = [TopicPartition(tp.topic, tp.partition, since_ms) for tp in committed if tp.offset < 0]
        by_time = {tp.partition: tp.offset for tp in consumer.offsets_for_times(fresh, timeout=30)} if fresh else {}
        starts = []
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, timeout=30)
            if tp.offset >= 0:
                start = tp.offset
            elif self.from_beginning:
                start = low
            else:
                found = by_time.get(tp.partition, -1)
                start = found if found >= 0 else high
            starts.append(TopicPartition(tp.topic, tp.partition, max(start, low)))
            log.info("alerts partition %d: delivering from offset %d (end %d)", tp.partition, max(start, low), high)
        self._recover(starts)
        consumer.assign(starts)

    def _recover(self, starts: list[TopicPartition]) -> None:
        recovering = [t for t in self.targets if hasattr(t, "recover")]
        if not recovering:
            return
        from streams.kafka.topics import read_to_ends, reader

        ends = {tp.partition: tp.offset for tp in starts if tp.offset > 0}
        limits = dict(ends)  # read_to_ends empties `ends`; later prefetched messages stay out
        if not ends:
            return
        replay = reader(self.settings)
        try:
            replay.assign([TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING) for tp in starts
                           if tp.partition in ends])
            for msg in read_to_ends(replay, ends, 60.0):
                if msg.offset() >= limits.get(msg.partition(), 0):
                    continue
                try:
                    alert = DriftAlert.model_validate_json(msg.value())
                except ValidationError:
                    continue
                for target in recovering:
                    target.recover(alert)
        finally:
            replay.close()
