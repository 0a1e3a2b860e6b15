"""Where each partition ends, read straight from the broker: the proof a partition is idle.

A partition counts as idle only when a fresh look at its end offset finds nothing left to read
(windowing.py, `confirm_end`). The look uses a consumer of its own (no group, nothing committed),
so it does not depend on what faust's consumer has fetched; when the broker is away the look
fails, nothing is confirmed, and no window closes by wall clock.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from streams.settings import Settings


class EndOffsets:
    def __init__(self, settings: Settings, topic: str, timeout_s: float = 2.0) -> None:
        self._topic = topic
        self._timeout_s = timeout_s
        self._config = settings.kafka_client_config()
        self._consumer = Consumer({**self._config, "group.id": f"driftline-ends-{uuid.uuid4()}",
                                   "enable.auto.commit": False, "log_level": 3})
        self._probe: Consumer | None = None
        self._group: Consumer | None = None

    def read(self, partitions: list[int]) -> dict[int, tuple[int, int]]:
        """partition -> (low, end): the first offset still in Kafka and the offset the next message
        will get. Raises when the broker does not answer in time: then nothing is confirmed."""
        return {p: tuple(self._consumer.get_watermark_offsets(TopicPartition(self._topic, p), timeout=self._timeout_s,
                                                              cached=False)) for p in partitions}

    def holds_messages(self, partition: int, first: int, last: int, timeout_s: float = 5.0) -> bool:
        """Whether offsets first..last hold a message (not only transaction markers). A consumer
        of its own (one look at a time each); when the broker does not answer, assume they do."""
        if self._probe is None:
            self._probe = Consumer({**self._config, "group.id": f"driftline-gaps-{uuid.uuid4()}",
                                    "enable.auto.commit": False, "log_level": 3})
        self._probe.assign([TopicPartition(self._topic, partition, first)])
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                msg = self._probe.poll(0.2)
                if msg is not None and msg.error() is None:
                    return msg.offset() <= last
            return True
        finally:
            self._probe.unassign()

    def committed(self, partition: int, group: str, timeout_s: float = 5.0) -> int | None:
        """The group's committed offset of the partition (None: none yet). A consumer of the
        group's id that never subscribes, so it joins nothing and commits nothing."""
        if self._group is None:
            self._group = Consumer({**self._config, "group.id": group, "enable.auto.commit": False,
                                    "log_level": 3})
        offset = self._group.committed([TopicPartition(self._topic, partition)], timeout=timeout_s)[0].offset
        return offset if offset >= 0 else None

    def close(self) -> None:
        self._consumer.close()
        for consumer in (self._probe, self._group):
            if consumer is not None:
                consumer.close()
