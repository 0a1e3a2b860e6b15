"""Every worker's view of the compacted `<prefix>.profiles` topic.

A plain confluent-kafka consumer with no group reads all partitions from the beginning, so every
worker sees every profile regardless of which prediction partitions it owns; a background thread
keeps following the topic, so a newly published profile applies from the next window on.
"""

from __future__ import annotations

import logging
import threading

from confluent_kafka import Consumer, KafkaException
from pydantic import ValidationError

from detectors import DetectorError, ReferenceProfile
from schemas import ProfileMessage, profile_key
from streams.settings import Settings
from streams.kafka.topics import read_compacted, reader

log = logging.getLogger("driftline.profiles")


class ProfileStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._profiles: dict[str, ReferenceProfile] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Consumer | None = None

    def get(self, model_id: str, model_version: str = "") -> ReferenceProfile | None:
        """The version's own profile if there is one, else the model-wide one."""
        with self._lock:
            if model_version:
                found = self._profiles.get(profile_key(model_id, model_version))
                if found is not None:
                    return found
            return self._profiles.get(model_id)

    def has(self, key: str) -> bool:
        with self._lock:
            return key in self._profiles

    def put(self, key: str, profile: ReferenceProfile | None) -> None:
        with self._lock:
            if profile is None:
                self._profiles.pop(key, None)
            else:
                self._profiles[key] = profile

    def start(self, timeout_s: float = 30.0) -> None:
        """Read the topic to its end (so the first windows see existing profiles), then follow it."""
        topic = self._settings.profiles_topic
        consumer = reader(self._settings)
        for key, value in read_compacted(self._settings, topic, timeout_s, consumer=consumer).items():
            self.apply_message(key.decode("utf-8", "replace"), value, f"{topic} (initial read)")
        self._consumer = consumer
        log.info("loaded %d reference profile(s) from %s", len(self._profiles), topic)
        self._thread = threading.Thread(target=self._follow, name="driftline-profiles", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        assert self._consumer is not None
        while not self._stop.is_set():
            try:
                msg = self._consumer.poll(0.5)
            except KafkaException as exc:  # keep the last known profiles on a broker hiccup
                log.warning("profile topic poll failed: %s", exc)
                continue
            if msg is not None:
                self._handle(msg)
        self._consumer.close()

    def _handle(self, msg) -> None:
        if msg.error() is not None:
            log.warning("profile topic error: %s", msg.error())
            return
        where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
        self.apply_message((msg.key() or b"").decode("utf-8", "replace"), msg.value(), where)

    def apply_message(self, key: str, value: bytes | None, where: str) -> None:
        if not value:
            self.put(key, None)
            log.info("profile %r deleted", key)
            return
        try:
            message = ProfileMessage.model_validate_json(value)
            profile = ReferenceProfile.from_dict(message.profile)
        except (ValidationError, DetectorError, ValueError, TypeError, KeyError) as exc:
            text = " ".join(str(exc).split())[:300]
            kept = "keeps its previous profile" if self.has(key) else "has no profile"
            log.error("rejected profile for model key %r at %s: %s (the model %s)", key, where, text, kept)
            return
        self.put(message.key, profile)
        log.info("profile %r loaded (%d features)", message.key, len(profile.features))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
