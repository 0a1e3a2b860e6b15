"""Small Kafka clients used by the CLI: publishing profiles and events, following a topic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import orjson
from confluent_kafka import Consumer, KafkaException, Producer

from streams.errors import DriftlineError
from streams.settings import Settings
from streams.kafka.topics import ensure_topics


def publish_profile(settings: Settings, key: str, payload: bytes) -> str:
    ensure_topics(settings)
    producer = Producer(settings.kafka_client_config())
    errors: list[str] = []
    producer.produce(settings.profiles_topic, key=key.encode(), value=payload,
                     on_delivery=lambda e, m: errors.append(str(e)) if e else None)
    if producer.flush(30) or errors:
        raise DriftlineError(f"could not publish the profile: {errors or 'timed out'}")
    return settings.profiles_topic


class EventProducer:
    def __init__(self, settings: Settings) -> None:
        ensure_topics(settings)
        self.topic = settings.predictions_topic
        self._producer = Producer({**settings.kafka_client_config(), "linger.ms": 20,
                                   "compression.type": "lz4"})

    def send_events(self, key: str, events: list[dict], batch: int) -> None:
        for i in range(0, len(events), max(batch, 1)):
            chunk = events[i:i + max(batch, 1)]
            value = orjson.dumps(chunk[0]) if batch == 1 else orjson.dumps({"events": chunk})
            self._produce(key, value)
        self._producer.poll(0)

    def _produce(self, key: str, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(self.topic, key=key.encode(), value=value)
                return
            except BufferError:
                self._producer.poll(0.1)

    def flush(self) -> None:
        self._producer.flush(30)


def follow_topic(settings: Settings, topic: str, from_beginning: bool, follow: bool) -> Iterator[bytes]:
    consumer = Consumer({**settings.kafka_client_config(), "group.id": f"driftline-cli-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest" if from_beginning else "latest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    try:
        idle = 0
        while True:
            msg = consumer.poll(0.5)
            if msg is None:
                idle += 1
                if not follow and idle > 6:
                    return
                continue
            if msg.error():
                if msg.error().fatal():
                    raise DriftlineError(str(msg.error()))
                continue
            idle = 0
            yield msg.value()
    except KafkaException as exc:
        raise DriftlineError(str(exc)) from exc
    finally:
        consumer.close()
