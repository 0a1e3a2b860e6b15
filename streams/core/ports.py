"""What the worker's two stages need from the outside, as small protocols: the faust adapter
passes Kafka topics, the InfluxDB sink and a compacted-topic checkpoint store; the tests pass
in-memory fakes (tests/streams/fakes.py), so the delivery logic runs without Kafka."""

from __future__ import annotations

from collections.abc import Awaitable, MutableMapping, Sequence
from typing import Any, Protocol

from streams.core.checkpoint import CheckpointStore
from streams.core.findings import WindowFindings


class Topic(Protocol):
    """A topic to send to (partials, alerts, DLQ): faust's `Topic.send`. Awaiting the call queues
    the message; awaiting its result waits until Kafka has it."""

    def send(self, *, key: bytes | None = None, value: bytes | None = None, partition: int | None = None,
             headers: Sequence[tuple[str, bytes]] | None = None) -> Awaitable[Awaitable[Any]]: ...


class WindowSink(Protocol):
    """Where final windows go (InfluxDB): returns once they are written; retries meanwhile."""

    async def write(self, findings: list[WindowFindings]) -> None: ...

    async def write_performance(self, rows: list[tuple[str, str, int, dict]]) -> None:
        """`window_performance` points: (model, version, window start, fields)."""


MergeTable = MutableMapping[str, str]  # the merge stage's state: a faust Table, or a dict

__all__ = ["CheckpointStore", "MergeTable", "Topic", "WindowSink"]
