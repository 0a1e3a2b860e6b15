"""Alerts already published (which alerts a window raises: findings.py)."""

from __future__ import annotations

from streams.settings import Settings


def recent_alert_ids(settings: Settings, hours: float = 24.0, timeout_s: float = 30.0) -> set[str]:
    """Ids of alerts already on the alerts topic (the last `hours`), so a replay after a crash does
    not publish the same alert twice."""
    import time
    import uuid

    import orjson
    from confluent_kafka import Consumer, TopicPartition

    from streams.topics import end_offsets

    topic = settings.alerts_topic
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": f"driftline-read-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    ids: set[str] = set()
    try:
        offsets = end_offsets(consumer, topic, timeout_s)
        since = int((time.time() - hours * 3600) * 1000)
        starts = consumer.offsets_for_times([TopicPartition(topic, p, since) for p in offsets], timeout=timeout_s)
        ends = {tp.partition: offsets[tp.partition][1] for tp in starts if 0 <= tp.offset < offsets[tp.partition][1]}
        consumer.assign([tp for tp in starts if tp.partition in ends])
        deadline = time.time() + timeout_s
        while ends and time.time() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error() is not None:
                continue
            try:
                ids.add(orjson.loads(msg.value())["alert_id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                pass
            if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                ends.pop(msg.partition(), None)
        return ids
    finally:
        consumer.close()
