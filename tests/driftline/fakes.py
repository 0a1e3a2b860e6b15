"""A stand-in for confluent-kafka's Producer, as the SDK's background thread uses it."""

from __future__ import annotations

import threading

from confluent_kafka import KafkaError


class FakeProducer:
    """Holds up to `capacity` messages (BufferError past it, as librdkafka does); while `up`,
    poll() delivers what it holds, else it keeps it. `error` makes every delivery fail with it."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self.up = True
        self.error: KafkaError | None = None
        self.refuse: Exception | None = None  # raised by produce() itself
        self.held: list = []
        self.delivered: list[bytes] = []  # values, in delivery order
        self.config: dict = {}
        self._lock = threading.Lock()

    def __call__(self, config: dict) -> "FakeProducer":  # the Monitor's producer_factory
        self.config = config
        return self

    def produce(self, topic, value, on_delivery) -> None:
        if self.refuse is not None:
            raise self.refuse
        with self._lock:
            if len(self.held) >= self.capacity:
                raise BufferError("Local: Queue full")
            self.held.append((value, on_delivery))

    def poll(self, timeout: float = 0) -> int:
        with self._lock:
            if not self.up:
                return 0
            held, self.held = self.held, []
        for value, on_delivery in held:
            if self.error is None:
                self.delivered.append(value)
            on_delivery(self.error, None)
        return len(held)

    def purge(self, *args) -> None:
        with self._lock:
            held, self.held = self.held, []
        for _, on_delivery in held:
            on_delivery(KafkaError(KafkaError._PURGE_QUEUE), None)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return len(self.held)

    def __len__(self) -> int:
        return len(self.held)
