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
