"""A join partition's state on local disk (RocksDB through rocksdict), written atomically with
the join topic offset it reflects: after kill -9 the partition resumes exactly where its state
is, so no label is counted twice or lost. Memory stays small (the pending predictions are on
disk); a partition that moves to a worker without its files rebuilds from the join topic.

Layout (one RocksDB per join partition, keys by prefix; the pending predictions are numpy
chunk files beside it, `PendingFiles`, named by the manifest `x`):
  x -> the pending index's manifest
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

import numpy as np
import orjson
from rocksdict import Options, Rdict, WriteBatch

from streams.core.pending_index import Chunk, PendingIndex

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


class PendingFiles:
    """A PendingIndex (streams/core/pending_index.py) on local disk beside the RocksDB state:
    each frozen chunk written once (`chunk-<seq>.npy`, memory-mapped when read back), its flags
    to a new file whenever they change (`flags-<seq>-<generation>.npy`); which files make the
    index is a manifest that goes into the state's atomic commit (key `x`), so after kill -9 the
    index is exactly what the stored offset implies. Files the manifest does not name (merged
    away, or written by a commit that never happened) are deleted."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.flags: dict[int, str] = {}  # chunk seq -> its flags file
        self.generation = 0

    def load(self, manifest: bytes | None) -> PendingIndex:
        if manifest is None:
            self._collect(set())
            return PendingIndex()
        m = orjson.loads(manifest)
        self.generation = m["generation"]
        chunks = []
        for seq, flags in m["chunks"]:
            data = np.load(self.dir / f"chunk-{seq}.npy", mmap_mode="r").view(np.ndarray)
            chunks.append(Chunk(seq, data, np.load(self.dir / flags)))
            self.flags[seq] = flags
        self._collect({f"chunk-{seq}.npy" for seq, _ in m["chunks"]} | set(self.flags.values()))
        return PendingIndex(chunks, [tuple(g) for g in m["groups"]], list(m["classes"]), m["next_seq"])

    def save(self, index: PendingIndex, cutoff_ms: int | None) -> bytes:
        """Write what changed; returns the manifest to commit (then call `collect`)."""
        index.freeze(cutoff_ms)
        for chunk in index.chunks:
            path = self.dir / f"chunk-{chunk.seq}.npy"
            if not path.exists():
                np.save(path, np.ascontiguousarray(chunk.data))
                # From now on the page cache holds it, not the heap (a plain view: no memmap overhead).
                chunk.data = np.load(path, mmap_mode="r").view(np.ndarray)
            if chunk.flags_changed or chunk.seq not in self.flags:
                self.generation += 1
                name = f"flags-{chunk.seq}-{self.generation}.npy"
                np.save(self.dir / name, chunk.labelled)
                self.flags[chunk.seq] = name
                chunk.flags_changed = False
        live = {c.seq for c in index.chunks}
        self.flags = {seq: name for seq, name in self.flags.items() if seq in live}
        return orjson.dumps({"generation": self.generation, "next_seq": index.next_seq,
                             "chunks": [[c.seq, self.flags[c.seq]] for c in index.chunks],
                             "groups": index.groups, "classes": index.classes})

    def collect(self, index: PendingIndex) -> None:
        """After the commit: delete the files the committed manifest no longer names."""
        self._collect({f"chunk-{c.seq}.npy" for c in index.chunks} | set(self.flags.values()))

    def _collect(self, keep: set[str]) -> None:
        for path in self.dir.glob("*.npy"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def bytes_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.dir.glob("*.npy"))
