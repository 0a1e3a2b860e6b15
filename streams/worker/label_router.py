"""The labels agent's work: each labels-topic message routed to its join partitions
(streams/core/label_routing.py), bad labels to the labels DLQ with their reason and source."""

from __future__ import annotations

import logging

from streams.core.label_routing import route_labels
from streams.core.ports import Topic

log = logging.getLogger("driftline.labels")


class LabelRouter:
    def __init__(self, join_topic: Topic, dlq_topic: Topic, join_partitions: int) -> None:
        self.join_topic = join_topic
        self.dlq_topic = dlq_topic
        self.join_partitions = join_partitions
        self.routed = 0
        self.rejected = 0

    async def handle(self, key: bytes | None, value: bytes | None, topic: str, partition: int, offset: int) -> None:
        routed = route_labels(value, partition, offset, self.join_partitions)
        for raw, reason in routed.rejects:
            self.rejected += 1
            await self.dlq_topic.send(key=key, value=raw, headers=[
                ("reason", reason.encode()), ("source_topic", topic.encode()),
                ("source_partition", str(partition).encode()), ("source_offset", str(offset).encode())])
        for j, message in routed.messages:
            await self.join_topic.send(key=None, value=message, partition=j)
        self.routed += len(routed.messages)
