"""A join partition's state on local disk (RocksDB through rocksdict), written atomically with
the join topic offset it reflects: after kill -9 the partition resumes exactly where its state
is, so no label is counted twice or lost. Memory stays small (the pending predictions are on
disk); a partition that moves to a worker without its files rebuilds from the join topic.

Layout (one RocksDB per join partition, keys by prefix):
  p<key> -> bucket(8) + pending prediction      i<bucket(8)><key> -> ''   (expiry index)
  w<key> -> bucket(8) + waiting labels          j<bucket(8)><key> -> ''
  s<window key json> -> WindowPerformance state (JSON)
  a<labels partition json> -> highest source offset applied
  m -> the newest prediction time      g -> the predictions partitions' progress (JSON)
  e<[model, version]> -> the error-stream detectors' state    c<seq> -> a detection not yet sent
  d<window key json> -> the window changed, its partial not yet sent
  o -> the next join topic offset to read
Writes go to an overlay that reads see at once; `commit(offset)` writes it in one WriteBatch.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import orjson
from rocksdict import Options, Rdict, WriteBatch

_BUCKET = struct.Struct(">q")
_DELETED = object()


class RocksJoinState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = Rdict(str(path), options=Options(raw_mode=True))
        self.overlay: dict[bytes, object] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.overlay:
            value = self.overlay[key]
            return None if value is _DELETED else value  # type: ignore[return-value]
        return self.db.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.overlay[key] = value

    def delete(self, key: bytes) -> None:
        self.overlay[key] = _DELETED

    def scan(self, prefix: bytes, below: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Committed and overlay entries with `prefix` (and keys < below), in key order."""
        seen: dict[bytes, object] = {}
        it = self.db.iter()
        it.seek(prefix)
        while it.valid() and it.key().startswith(prefix) and (below is None or it.key() < below):
            seen[it.key()] = it.value()
            it.next()
        for key, value in self.overlay.items():
            if key.startswith(prefix) and (below is None or key < below):
                seen[key] = value
        for key in sorted(seen):
            if seen[key] is not _DELETED:
                yield key, seen[key]  # type: ignore[misc]

    def offset(self) -> int | None:
        raw = self.get(b"o")
        return None if raw is None else int(raw)

    def commit(self, offset: int) -> None:
        batch = WriteBatch(raw_mode=True)
        for key, value in self.overlay.items():
            if value is _DELETED:
                batch.delete(key)
            else:
                batch.put(key, value)
        batch.put(b"o", str(offset).encode())
        self.db.write(batch)
        self.overlay.clear()

    def close(self) -> None:
        self.db.close()

    def destroy(self) -> None:
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)


class StoreFamily:
    """A LabelStore (streams/core/label_join.py) over one prefix pair of a RocksJoinState."""

    def __init__(self, state: RocksJoinState, data: bytes, index: bytes) -> None:
        self.state, self.data, self.index = state, data, index

    def get(self, key: bytes) -> tuple[int, bytes] | None:
        raw = self.state.get(self.data + key)
        return None if raw is None else (_BUCKET.unpack_from(raw)[0], raw[_BUCKET.size:])

    def put(self, key: bytes, bucket: int, value: bytes) -> None:
        self.delete(key)
        self.state.put(self.data + key, _BUCKET.pack(bucket) + value)
        self.state.put(self.index + _BUCKET.pack(bucket) + key, b"")

    def delete(self, key: bytes) -> None:
        found = self.get(key)
        if found is not None:
            self.state.delete(self.data + key)
            self.state.delete(self.index + _BUCKET.pack(found[0]) + key)

    def expire(self, below: int) -> Iterator[tuple[bytes, bytes]]:
        # Buckets are non-negative event-time hours: big-endian keys sort like the numbers.
        expired = list(self.state.scan(self.index, self.index + _BUCKET.pack(max(below, 0))))
        for index_key, _ in expired:
            key = index_key[len(self.index) + _BUCKET.size:]
            raw = self.state.get(self.data + key)
            self.state.delete(index_key)
            if raw is not None:
                self.state.delete(self.data + key)
                yield key, raw[_BUCKET.size:]


def save_windows(state: RocksJoinState, windows: dict, applied: dict[int, int], changed) -> None:
    """The join partition's windows that changed, and its router offsets, into the overlay."""
    for key in changed:
        window = windows.get(key)
        raw_key = b"s" + orjson.dumps(list(key))
        if window is None:
            state.delete(raw_key)
        else:
            state.put(raw_key, orjson.dumps(window.to_state(), option=orjson.OPT_SERIALIZE_NUMPY))
    for partition, offset in applied.items():
        state.put(b"a" + orjson.dumps(partition), str(offset).encode())


def load_windows(state: RocksJoinState) -> tuple[dict, dict[int, int]]:
    from detectors.performance import WindowPerformance

    windows = {tuple(orjson.loads(k[1:])): WindowPerformance.from_state(orjson.loads(v))
               for k, v in state.scan(b"s")}
    applied = {int(orjson.loads(k[1:])): int(v) for k, v in state.scan(b"a")}
    return windows, applied
