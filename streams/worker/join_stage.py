"""Stage three of the worker: join partitions (labels meet predictions, #11).

For each join topic partition this worker owns: a JoinPartition (streams/core/join_partition.py)
over a RocksJoinState (join_store.py). Messages are applied as they come; once a second (the
flush), in this order: store the changed windows, the router offsets, "to send" marks and the
next offset in one atomic write; send the changed windows' PerformancePartials to the merge
stage and wait for the broker; clear the marks. Storing a window's cumulative state per message
would rebuild and encode it per message (measured: 10k labels/s); once a second, a crash replays
at most a second of the join topic from the stored offset, deterministically. After kill -9 a partition resumes at its stored offset with exactly the
state that offset implies, and re-sends what was marked but maybe not sent (the merge stage
replaces copies, so a second copy is harmless).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import orjson

from detectors.performance import WindowPerformance
from schemas.join import decode_join_message
from schemas.partials import OnlineChange, PerformancePartial
from streams.core.join_partition import JoinPartition
from streams.core.label_join import LabelJoin
from streams.worker.join_store import PendingFiles, RocksJoinState, StoreFamily, load_windows, save_windows

log = logging.getLogger("driftline.join")

SEEK_RETRY_S = 3.0  # messages past a seek back are skipped this long, then the seek is asked again


class JoinRunner:
    """One join partition: its state on disk and what it owes the merge stage."""

    def __init__(self, partition: int, path: Path, *, window_ms: int, horizon_ms: int, wait_ms: int,
                 new_window=lambda model, version: None) -> None:
        self.state = RocksJoinState(path)
        self.files = PendingFiles(path.with_name(path.name + ".pending"))
        join = LabelJoin(self.files.load(self.state.get(b"x")), StoreFamily(self.state, b"w", b"j"),
                         window_ms=window_ms, horizon_ms=horizon_ms, wait_ms=wait_ms)
        join.waiting_keys = {int.from_bytes(k[1:], "big") for k, _ in self.state.scan(b"w")}
        watermark = self.state.get(b"m")
        if watermark is not None:
            join.watermark_ms = int(watermark)
        self.core = JoinPartition(partition, join, window_ms, new_window=new_window)
        progress = self.state.get(b"g")
        if progress is not None:
            saved = orjson.loads(progress)
            join.progress_ms = saved["progress_ms"]
            self.core.progress = {int(k): v for k, v in saved["partitions"].items()}
            self.core.predictions_partitions = saved["count"]
        self.core.states, self.core.applied = load_windows(self.state)
        self.core.dirty = {tuple(orjson.loads(k[1:])) for k, _ in self.state.scan(b"d")}
        for k, v in self.state.scan(b"e"):
            self.core.errors.restore(tuple(orjson.loads(k[1:])), orjson.loads(v))
        self._owed = {k: OnlineChange.model_validate_json(v) for k, v in self.state.scan(b"c")}
        self._seq = max((int(k[1:]) for k in self._owed), default=0)
        self._stored = set(self.core.dirty)  # changed windows whose state and mark are stored
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

    def commit(self, next_offset: int) -> None:
        """Store everything up to `next_offset` atomically, the changed windows marked "to send"."""
        changed = self.core.dirty - self._stored
        save_windows(self.state, self.core.states, self.core.applied, self.core.dirty)
        for key in changed:
            self.state.put(b"d" + orjson.dumps(list(key)), b"")
        self._stored |= changed
        for key in self.core.errors.touched:
            self.state.put(b"e" + orjson.dumps(list(key)), orjson.dumps(self.core.errors.to_state(key)))
        self.core.errors.touched.clear()
        for change in self.core.take_changes():  # detections are owed until sent (their state moved on)
            self._seq += 1
            key = b"c%020d" % self._seq
            self._owed[key] = change
            self.state.put(key, change.model_dump_json().encode())
        self.state.put(b"m", str(self.core.join.watermark_ms).encode())
        self.state.put(b"g", orjson.dumps({"progress_ms": self.core.join.progress_ms, "count":
                                           self.core.predictions_partitions, "partitions": self.core.progress},
                                          option=orjson.OPT_NON_STR_KEYS))
        join = self.core.join
        self.state.put(b"x", self.files.save(join.index, join.watermark_ms - join.horizon_ms))
        self.state.commit(next_offset)
        self.files.collect(join.index)

    def take_partials(self) -> list[PerformancePartial]:
        """The windows changed since the last call (stored by commit() first)."""
        self._stored = set()
        return self.core.take_partials()

    def sent(self, partials: list[PerformancePartial]) -> None:
        """The partials are on the broker: forget their marks (not of windows changed again since).
        The deletions are stored with the next commit, never on their own: the overlay may hold
        messages applied past the stored offset by then, which must be stored with their offset
        (stored alone, a crash would replay them onto their own effects: a joined label would
        come back as its own duplicate). A crash before that commit re-sends: harmless."""
        for p in partials:
            key = (p.model_id, p.model_version, p.window_start_ms)
            if key not in self.core.dirty:
                self.state.delete(b"d" + orjson.dumps(list(key)))

    def owed_changes(self) -> list[tuple[bytes, OnlineChange]]:
        return sorted(self._owed.items())

    def changes_sent(self, keys: list[bytes]) -> None:
        for key in keys:  # stored with the next commit, as in sent()
            self._owed.pop(key, None)
            self.state.delete(key)

    def close(self) -> None:
        self.state.close()


def performance_window_factory(profiles):
    """(model, version) -> a WindowPerformance from the model's profile, or None (infer)."""
    def new_window(model_id: str, model_version: str) -> WindowPerformance | None:
        profile = profiles.get(model_id, model_version) if profiles is not None else None
        performance = getattr(profile, "performance", None)
        return None if performance is None else performance.window()
    return new_window


class JoinStage:
    """Every join partition this worker owns; the faust agent hands it the join topic's messages."""

    def __init__(self, settings, partials_topic, profiles, end_offsets) -> None:
        self.settings = settings
        self.partials_topic = partials_topic
        self.new_window = performance_window_factory(profiles)
        self.end_offsets = end_offsets  # EndOffsets of the join topic: (low, end) per partition
        self.runners: dict[int, JoinRunner] = {}
        self.expected: dict[int, int] = {}  # partition -> next offset to apply
        self.seeking: dict[int, float] = {}  # partition -> when a seek back was asked for

    def _open(self, partition: int) -> JoinRunner:
        s = self.settings
        runner = JoinRunner(partition, Path(s.worker_data_dir) / "join" / f"{s.join_topic}-{partition}",
                            window_ms=s.window_ms, horizon_ms=int(s.label_horizon_seconds * 1000),
                            wait_ms=int(s.label_wait_seconds * 1000), new_window=self.new_window)
        self.runners[partition] = runner
        low, _ = self.end_offsets.read([partition])[partition]
        stored = runner.next_offset
        if stored is not None and stored < low:
            log.error("join partition %d: its state ends at offset %d but the join topic starts at %d (retention): "
                      "offsets %d-%d are lost to the join", partition, stored, low, stored, low - 1)
        self.expected[partition] = max(stored or 0, low)
        log.info("join partition %d: %s, resuming at offset %d", partition,
                 "state on disk" if stored is not None else "no state here, rebuilding from the join topic",
                 self.expected[partition])
        return runner

    async def handle(self, partition: int, offset: int, raw: bytes) -> int | None:
        """Apply one message; returns an offset to seek back to when the consumer skipped ahead."""
        runner = self.runners.get(partition)
        if runner is None:
            runner = await asyncio.to_thread(self._open, partition)
        expected = self.expected[partition]
        if offset < expected:
            return None  # applied before (its state is on disk)
        if offset > expected:
            asked = self.seeking.get(partition)
            if asked is not None and time.monotonic() - asked < SEEK_RETRY_S:
                return None  # read before the seek back took effect: it comes again
            if await asyncio.to_thread(self.end_offsets.holds_messages, partition, expected, offset - 1):
                log.warning("join partition %d: the consumer is at offset %d, the state at %d; seeking back",
                            partition, offset, expected)
                self.seeking[partition] = time.monotonic()
                return expected
        self.seeking.pop(partition, None)
        runner.apply(offset, raw)  # stored with its offset at the next flush (a crash replays since)
        self.expected[partition] = offset + 1
        return None

    async def flush(self) -> None:
        """Send every changed window to the merge stage; forget the marks once Kafka has them."""
        from schemas.partials import encode_partials_message
        from streams.core.partials import partial_key

        for partition, runner in list(self.runners.items()):
            if self.expected.get(partition, 0) > (runner.next_offset or 0):
                runner.commit(self.expected[partition])
            partials = runner.take_partials()
            if not partials:
                continue
            deliveries = [await self.partials_topic.send(key=partial_key(p.model_id, p.model_version),
                                                         value=encode_partials_message(p)) for p in partials]
            for delivery in deliveries:
                await delivery
            if self.runners.get(partition) is runner:  # not revoked meanwhile (its marks stay on disk)
                runner.sent(partials)
        for partition, runner in list(self.runners.items()):
            owed = runner.owed_changes()
            if not owed:
                continue
            deliveries = [await self.partials_topic.send(key=partial_key(c.alert.model_id, c.alert.model_version),
                                                         value=encode_partials_message(c)) for _, c in owed]
            for delivery in deliveries:
                await delivery
            if self.runners.get(partition) is runner:
                runner.changes_sent([k for k, _ in owed])

    def forget(self, partitions) -> None:
        for p in partitions:
            runner = self.runners.pop(p, None)
            self.expected.pop(p, None)
            self.seeking.pop(p, None)
            if runner is not None:
                runner.close()
