"""driftline's topics: creating them if missing (profiles and checkpoints are compacted) and
reading them to their ends by assignment."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.prediction import MAX_MESSAGE_BYTES
from streams.errors import DriftlineError
from streams.settings import Settings


MAX_TOPIC_MESSAGE_BYTES = 8 * 1024 * 1024
# A partition's share of one fetch: about one largest message the worker accepts (and its record
# batch). With 8 MB a catching-up worker got 32 MB responses that asyncio's stream reader copied
# several times while growing its buffer: 16 % of the worker's GIL time on SDK envelopes, 2-3 %
# at 1 MB. Bigger messages (for the DLQ) and record batches still come: Kafka returns an oversized
# batch when its partition is the first non-empty one of a response, and aiokafka shuffles the
# partitions of every request (tests/streams/test_large_messages.py).
FETCH_BYTES_PER_PARTITION = MAX_MESSAGE_BYTES + 65536
# Errors a freshly created topic returns for a moment while its partition leaders are elected.
_SETTLING = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
             KafkaError.UNKNOWN_TOPIC_OR_PART}


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> None:
    problems: list[KafkaError] = []  # what librdkafka saw on the way (a rejected login, a TLS failure)
    admin = AdminClient({**settings.kafka_client_config(), "error_cb": problems.append})
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except Exception as exc:  # confluent raises KafkaException with a cryptic code
        admin.poll(0.5)  # serves error_cb: what went wrong on the way
        raise DriftlineError(_unreachable(settings, problems, exc)) from exc
    # Oversized messages must reach the worker (and then the DLQ) instead of failing at the producer.
    big = {"max.message.bytes": str(MAX_TOPIC_MESSAGE_BYTES)}
    wanted = [
        NewTopic(settings.predictions_topic, settings.topic_partitions, 1, config=big),
        NewTopic(settings.alerts_topic, 1, 1),
        NewTopic(settings.dlq_topic, 1, 1, config=big),
        NewTopic(settings.profiles_topic, 1, 1, config={"cleanup.policy": "compact"}),
        NewTopic(settings.checkpoints_topic, 1, 1, config={"cleanup.policy": "compact"}),
        NewTopic(settings.partials_topic, settings.partials_partitions, 1, config=big),
        NewTopic(settings.merge_changelog_topic, settings.partials_partitions, 1,
                 config={**big, "cleanup.policy": "compact"}),
        NewTopic(settings.labels_topic, settings.topic_partitions, 1, config=big),
        NewTopic(settings.labels_dlq_topic, 1, 1, config=big),
        # The join topic is the join's log: kept for the horizon and a day, so a join partition
        # that moves to a worker without its files can rebuild.
        NewTopic(settings.join_topic, settings.join_partitions, 1, config={
            **big, "retention.ms": str(int((settings.label_horizon_seconds + 86_400) * 1000))}),
    ]
    missing = [t for t in wanted if t.topic not in existing]
    if missing:
        _create(admin, missing, timeout_s)
    wait_for_leaders(admin, [t.topic for t in wanted], timeout_s)


def partition_count(settings: Settings, topic: str, timeout_s: float = 30.0) -> int:
    consumer = reader(settings)
    try:
        count = len(end_offsets(consumer, topic, timeout_s))
    finally:
        consumer.close()
    if not count:
        raise DriftlineError(f"topic {topic} does not exist")
    return count


def _unreachable(settings: Settings, problems: list[KafkaError], exc: Exception) -> str:
    where = f"Kafka at {settings.bootstrap_servers} ({settings.kafka_security_protocol})"
    for problem in problems:
        if problem.code() == KafkaError._AUTHENTICATION:
            return (f"{where} rejected the credentials of user {settings.kafka_sasl_username!r} "
                    f"({settings.kafka_sasl_mechanism}): {problem.str()}")
        if problem.code() == KafkaError._SSL:
            return f"{where}: TLS failed: {problem.str()}"
    return f"cannot reach {where}: {exc}"


def _create(admin: AdminClient, missing: list[NewTopic], timeout_s: float) -> None:
    for topic, future in admin.create_topics(missing, operation_timeout=timeout_s).items():
        try:
            future.result()
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise DriftlineError(f"cannot create topic {topic}: {exc}") from exc


def wait_for_leaders(admin: AdminClient, topics: list[str], timeout_s: float) -> None:
    """A new topic is usable only once every partition has a leader."""
    deadline = time.time() + timeout_s
    while True:
        metadata = admin.list_topics(timeout=timeout_s)
        ready = all(t in metadata.topics and metadata.topics[t].partitions and
                    all(p.leader >= 0 for p in metadata.topics[t].partitions.values()) for t in topics)
        if ready:
            return
        if time.time() > deadline:
            raise DriftlineError(f"topics {topics} have no leader after {timeout_s:.0f} s")
        time.sleep(0.1)


def end_offsets(consumer: Consumer, topic: str, timeout_s: float = 30.0) -> dict[int, tuple[int, int]]:
    """partition -> (low, high) watermark offsets; retried while a new topic's leader settles."""
    deadline = time.time() + timeout_s
    while True:
        try:
            metadata = consumer.list_topics(topic, timeout=timeout_s)
            if topic not in metadata.topics or metadata.topics[topic].error is not None:
                return {}
            return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
                    for p in metadata.topics[topic].partitions}
        except KafkaException as exc:
            if time.time() > deadline or not exc.args[0].retriable() and exc.args[0].code() not in _SETTLING:
                raise DriftlineError(f"cannot read offsets of {topic}: {exc}") from exc
            time.sleep(0.2)


def reader(settings: Settings) -> Consumer:
    """A consumer for reading topics by assignment: its own throwaway group, no commits."""
    return Consumer({**settings.kafka_client_config(),
                     "group.id": f"driftline-read-{uuid.uuid4()}", "enable.auto.commit": False})


def read_to_ends(consumer: Consumer, ends: dict[int, int], timeout_s: float) -> Iterator:
    """The messages of the assigned partitions until each reaches its end offset (`ends`:
    partition -> end, emptied as partitions finish; what is left after a timeout stays in it)."""
    deadline = time.time() + timeout_s
    while ends and time.time() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or msg.error() is not None:
            continue
        yield msg
        if msg.offset() + 1 >= ends.get(msg.partition(), 0):
            ends.pop(msg.partition(), None)


def read_compacted(settings: Settings, topic: str, timeout_s: float = 30.0,
                   consumer: Consumer | None = None) -> dict[bytes, bytes]:
    """Latest value per key of a (small, compacted) topic, read to its end; tombstones remove keys.

    With a `consumer` given, it is left assigned just past what was read, ready to follow the topic.
    """
    own = consumer is None
    if consumer is None:
        consumer = reader(settings)
    try:
        offsets = end_offsets(consumer, topic, timeout_s)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in offsets])
        ends = {p: high for p, (low, high) in offsets.items() if high > low}
        latest: dict[bytes, bytes] = {}
        for msg in read_to_ends(consumer, ends, timeout_s):
            if msg.value():
                latest[msg.key()] = msg.value()
            else:
                latest.pop(msg.key(), None)
        if ends:
            raise DriftlineError(f"timed out reading {topic}")
        return latest
    finally:
        if own:
            consumer.close()
