"""Creates driftline's topics if they are missing (the profiles topic is compacted)."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from streams.errors import DriftlineError
from streams.settings import Settings


MAX_TOPIC_MESSAGE_BYTES = 8 * 1024 * 1024


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> None:
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except Exception as exc:  # confluent raises KafkaException with a cryptic code
        raise DriftlineError(f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}") from exc
    # Oversized messages must reach the worker (and then the DLQ) instead of failing at the producer.
    big = {"max.message.bytes": str(MAX_TOPIC_MESSAGE_BYTES)}
    wanted = [
        NewTopic(settings.predictions_topic, settings.topic_partitions, 1, config=big),
        NewTopic(settings.alerts_topic, 1, 1),
        NewTopic(settings.dlq_topic, 1, 1, config=big),
        NewTopic(settings.profiles_topic, 1, 1, config={"cleanup.policy": "compact"}),
        NewTopic(settings.checkpoints_topic, 1, 1, config={"cleanup.policy": "compact"}),
    ]
    missing = [t for t in wanted if t.topic not in existing]
    if not missing:
        return
    for topic, future in admin.create_topics(missing, operation_timeout=timeout_s).items():
        try:
            future.result()
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise DriftlineError(f"cannot create topic {topic}: {exc}") from exc


def read_compacted(settings: Settings, topic: str, timeout_s: float = 30.0) -> dict[bytes, bytes]:
    """Latest value per key of a (small, compacted) topic, read to its end; tombstones remove keys."""
    import uuid

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": f"driftline-read-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s)
        partitions = list(metadata.topics[topic].partitions) if topic in metadata.topics else []
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        latest: dict[bytes, bytes] = {}
        import time

        deadline = time.time() + timeout_s
        while ends and time.time() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error() is not None:
                continue
            if msg.value():
                latest[msg.key()] = msg.value()
            else:
                latest.pop(msg.key(), None)
            if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                ends.pop(msg.partition(), None)
        if ends:
            raise DriftlineError(f"timed out reading {topic}")
        return latest
    finally:
        consumer.close()
