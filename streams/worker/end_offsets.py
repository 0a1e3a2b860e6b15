"""Where each partition ends, read straight from the broker: the proof a partition is idle.

A partition counts as idle only when a fresh look at its end offset finds nothing left to read
(windowing.py, `confirm_end`). The look uses a consumer of its own (no group, nothing committed),
so it does not depend on what faust's consumer has fetched; when the broker is away the look
fails, nothing is confirmed, and no window closes by wall clock.
"""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, TopicPartition

from streams.settings import Settings


class EndOffsets:
    def __init__(self, settings: Settings, topic: str, timeout_s: float = 2.0) -> None:
        self._topic = topic
        self._timeout_s = timeout_s
        self._consumer = Consumer({**settings.kafka_client_config(), "group.id": f"driftline-ends-{uuid.uuid4()}",
                                   "enable.auto.commit": False, "log_level": 3})

    def read(self, partitions: list[int]) -> dict[int, tuple[int, int]]:
        """partition -> (low, end): the first offset still in Kafka and the offset the next message
        will get. Raises when the broker does not answer in time: then nothing is confirmed."""
        return {p: tuple(self._consumer.get_watermark_offsets(TopicPartition(self._topic, p), timeout=self._timeout_s,
                                                              cached=False)) for p in partitions}

    def close(self) -> None:
        self._consumer.close()
