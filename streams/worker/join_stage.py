"""Stage three of the worker: join partitions (labels meet predictions, #11).

For each join topic partition this worker owns: a JoinPartition (streams/core/join_partition.py)
over a RocksJoinState (join_store.py). Per batch of join topic messages, in this order: apply
them; store the changed windows, the router offsets, "to send" marks and the next offset in one
atomic write; send the changed windows' PerformancePartials to the merge stage and wait for the
broker; clear the marks. After kill -9 a partition resumes at its stored offset with exactly the
state that offset implies, and re-sends what was marked but maybe not sent (the merge stage
replaces copies, so a second copy is harmless).
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson

from detectors.performance import WindowPerformance
from schemas.join import decode_join_message
from schemas.partials import PerformancePartial
from streams.core.join_partition import JoinPartition
from streams.core.label_join import LabelJoin
from streams.worker.join_store import RocksJoinState, StoreFamily, load_windows, save_windows

log = logging.getLogger("driftline.join")


class JoinRunner:
    """One join partition: its state on disk and what it owes the merge stage."""

    def __init__(self, partition: int, path: Path, *, window_ms: int, horizon_ms: int, wait_ms: int,
                 new_window=lambda model, version: None) -> None:
        self.state = RocksJoinState(path)
        join = LabelJoin(StoreFamily(self.state, b"p", b"i"), StoreFamily(self.state, b"w", b"j"),
                         horizon_ms=horizon_ms, wait_ms=wait_ms)
        watermark = self.state.get(b"m")
        if watermark is not None:
            join.watermark_ms = int(watermark)
        self.core = JoinPartition(partition, join, window_ms, new_window=new_window)
        self.core.states, self.core.applied = load_windows(self.state)
        self.core.dirty = {tuple(orjson.loads(k[1:])) for k, _ in self.state.scan(b"d")}
        self.unreadable = 0

    @property
    def next_offset(self) -> int | None:
        return self.state.offset()

    def apply(self, offset: int, raw: bytes) -> None:
        """One join topic message (an unreadable one is logged and skipped)."""
        try:
            message = decode_join_message(raw)
        except ValueError as exc:
            self.unreadable += 1
            log.error("join partition %d: unreadable message at offset %d skipped (%s)", self.core.partition,
                      offset, str(exc).splitlines()[0][:200])
            return
        self.core.handle(message)

    def commit(self, next_offset: int) -> list[PerformancePartial]:
        """Store everything up to `next_offset` atomically; returns the partials to send."""
        changed = set(self.core.dirty)
        save_windows(self.state, self.core.states, self.core.applied, changed)
        for key in changed:
            self.state.put(b"d" + orjson.dumps(list(key)), b"")
        self.state.put(b"m", str(self.core.join.watermark_ms).encode())
        self.state.commit(next_offset)
        return self.core.take_partials()

    def sent(self, partials: list[PerformancePartial]) -> None:
        """The partials are on the broker: forget the marks."""
        for p in partials:
            self.state.delete(b"d" + orjson.dumps([p.model_id, p.model_version, p.window_start_ms]))
        self.state.commit(self.state.offset() or 0)

    def close(self) -> None:
        self.state.close()


def performance_window_factory(profiles):
    """(model, version) -> a WindowPerformance from the model's profile, or None (infer)."""
    def new_window(model_id: str, model_version: str) -> WindowPerformance | None:
        profile = profiles.get(model_id, model_version) if profiles is not None else None
        performance = getattr(profile, "performance", None)
        return None if performance is None else performance.window()
    return new_window
