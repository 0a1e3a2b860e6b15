"""Stage one's sends to the join topic through librdkafka (confluent-kafka) instead of faust's
producer: a produce is a few µs of C, where faust's send costs tens of µs of Python on the
worker's event loop (four of them per predictions message, one per join partition) and waits
while aiokafka's batch for the partition is full. Pending predictions and the progress after
them go through this one idempotent producer, so a join partition sees them in order; `flush`
(in a thread) is the delivery barrier the checkpoint waits for."""

from __future__ import annotations

import asyncio

from confluent_kafka import Producer

from streams.errors import DriftlineError


class JoinProducer:
    def __init__(self, settings, topic: str) -> None:
        self.topic = topic
        self._producer = Producer({**settings.kafka_client_config(), "enable.idempotence": True,
                                   "compression.type": "lz4", "linger.ms": 5, "batch.size": 1024 * 1024,
                                   "message.max.bytes": 8 * 1024 * 1024, "queue.buffering.max.kbytes": 262144})
        self._errors: list[str] = []

    def _delivered(self, err, msg) -> None:
        if err is not None and len(self._errors) < 5:
            self._errors.append(str(err))

    def send(self, partition: int, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(self.topic, value, partition=partition, on_delivery=self._delivered)
                self._producer.poll(0)
                return
            except BufferError:  # librdkafka's queue is full: let it deliver some (rare: 256 MB)
                self._producer.poll(0.05)

    async def flush(self) -> None:
        """Every send so far is on the broker (or the worker fails loudly: it is retried by librdkafka
        until its delivery timeout, then reported here)."""
        left = await asyncio.to_thread(self._producer.flush, 120)
        if left or self._errors:
            errors, self._errors = self._errors, []
            raise DriftlineError(f"join topic {self.topic}: {left} message(s) undelivered ({'; '.join(errors)})")

    def close(self) -> None:
        self._producer.flush(10)
