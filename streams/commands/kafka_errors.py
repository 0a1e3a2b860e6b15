"""Kafka's errors, for the CLI's one-shot readers (status, backtest), as one line that says which
cluster and what the command was doing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import KafkaException

from streams.errors import DriftlineError
from streams.settings import KafkaSettings


@contextmanager
def reaching_kafka(settings: KafkaSettings, doing: str) -> Iterator[None]:
    """`doing`: e.g. "reading driftline.alerts"."""
    try:
        yield
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        text = error.str() if hasattr(error, "str") else str(exc)
        raise DriftlineError(f"Kafka at {settings.bootstrap_servers}, {doing}: {text}") from exc
    except DriftlineError as exc:  # from streams.kafka.topics: already one line
        raise DriftlineError(f"Kafka at {settings.bootstrap_servers}, {doing}: {exc}") from exc
