"""Alerts already published (which alerts a window raises: findings.py)."""

from __future__ import annotations

from streams.settings import Settings


def recent_alert_ids(settings: Settings, hours: float = 24.0, timeout_s: float = 30.0) -> dict[str, int]:
    """Ids of alerts already on the alerts topic (the last `hours`), with their window ends, so a
    replay after a crash does not publish the same alert twice."""
    import time

    import orjson
    from confluent_kafka import TopicPartition

    from streams.kafka.topics import end_offsets, read_to_ends, reader

    topic = settings.alerts_topic
    consumer = reader(settings)
    ids: dict[str, int] = {}
    try:
        offsets = end_offsets(consumer, topic, timeout_s)
        since = int((time.time() - hours * 3600) * 1000)
        starts = consumer.offsets_for_times([TopicPartition(topic, p, since) for p in offsets], timeout=timeout_s)
        ends = {tp.partition: offsets[tp.partition][1] for tp in starts if 0 <= tp.offset < offsets[tp.partition][1]}
        consumer.assign([tp for tp in starts if tp.partition in ends])
        for msg in read_to_ends(consumer, ends, timeout_s):
            try:
                alert = orjson.loads(msg.value())
                ids[alert["alert_id"]] = int(alert.get("window_end_ms", 0))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass
        return ids
    finally:
        consumer.close()
