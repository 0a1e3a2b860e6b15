"""The label join's pending predictions, column-wise: sorted numpy chunks keyed by a 64-bit hash
of (model id, event id), so that a batch of predictions is added, and a batch of labels looked
up, with a few numpy calls instead of a store operation per event.

- `add` appends one message's predictions of one (model, version) to a buffer (their keys also go
  to a set, the one per-event Python step, ~50 ns); `freeze` sorts the buffer into a chunk.
- Chunks are merged like an LSM tree (size-tiered: 16 chunks of similar size become one), so a
  lookup is a `searchsorted` in each of O(log n) chunks. Merges and `expire` drop entries past the horizon.
- A key may be added twice (a replay re-sends predictions): the first copy stands. Lookups take
  the copy in the oldest chunk (chunks are kept oldest first), and merges keep the first copy
  of a key with the flags of all its copies, so every lookup of a key sees one entry.
- A labelled entry is flagged in place (first label wins); the flags are a separate array per
  chunk, so a chunk's entries never change once frozen (the adapter writes a chunk file once).
Entry: key u64, event time i64, score f64 (NaN: a class prediction), class code i32 (-1: none),
group code i32 (the (model, version) pair, in `groups`): 32 bytes, plus 1 for the flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FREEZE_AT = 65_536  # buffered entries (a Python set of their keys) before they become a chunk
# Size-tiered merging: FAN_IN chunks of one tier (sizes within a factor FAN_IN) are merged, so an
# entry is rewritten about log_FAN_IN(n / chunk) times and a lookup searches at most
# FAN_IN - 1 chunks per tier.
FAN_IN = 16


def _tier(size: int) -> int:
    return int(np.log(max(size, 1)) / np.log(FAN_IN))
ENTRY = np.dtype([("k", "<u8"), ("t", "<i8"), ("s", "<f8"), ("c", "<i4"), ("g", "<i4")])


@dataclass
class Chunk:
    seq: int
    data: np.ndarray  # ENTRY, sorted by key, keys unique (a memory map once written)
    labelled: np.ndarray  # bool, per entry
    flags_changed: bool = False
    keys: np.ndarray = None  # data["k"], contiguous in memory (what lookups search)

    def __post_init__(self) -> None:
        if self.keys is None:
            self.keys = np.ascontiguousarray(self.data["k"])


def _first_of_each_key(data: np.ndarray, labelled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by key (stable: the first copy first), one entry per key, flags OR-ed over copies."""
    order = np.argsort(np.ascontiguousarray(data["k"]), kind="stable")  # timsort: runs merge in O(n log runs)
    data, labelled = data[order], labelled[order]
    if len(data) < 2:
        return data, labelled
    keys = data["k"]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    if len(starts) == len(data):
        return data, labelled
    return data[starts], np.logical_or.reduceat(labelled, starts)


@dataclass
class PendingIndex:
    chunks: list[Chunk] = field(default_factory=list)  # oldest first
    groups: list[tuple[str, str]] = field(default_factory=list)  # group code -> (model, version)
    classes: list[str] = field(default_factory=list)  # class code -> predicted class
    next_seq: int = 0
    _group_codes: dict[tuple[str, str], int] = field(default_factory=dict)
    _class_codes: dict[str, int] = field(default_factory=dict)
    _buffer: list[np.ndarray] = field(default_factory=list)
    _buffer_keys: set[int] = field(default_factory=set)
    _buffer_labelled: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._group_codes = {g: i for i, g in enumerate(self.groups)}
        self._class_codes = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        """Entries held (a key added twice counts twice until its copies meet in a merge)."""
        return sum(len(c.data) for c in self.chunks) + sum(len(b) for b in self._buffer)

    def group_code(self, model_id: str, model_version: str) -> int:
        key = (model_id, model_version)
        code = self._group_codes.get(key)
        if code is None:
            code = self._group_codes[key] = len(self.groups)
            self.groups.append(key)
        return code

    def class_codes(self, classes: list[str | None]) -> np.ndarray:
        out = np.empty(len(classes), dtype=np.int32)
        for i, c in enumerate(classes):
            if c is None:
                out[i] = -1
            else:
                code = self._class_codes.get(c)
                if code is None:
                    code = self._class_codes[c] = len(self.classes)
                    self.classes.append(c)
                out[i] = code
        return out

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Whether each key is pending (labelled or not)."""
        found = self.locate(keys)[0] >= 0
        if self._buffer_keys:
            found |= np.fromiter((k in self._buffer_keys for k in keys.tolist()), bool, len(keys))
        return found

    def add(self, keys: np.ndarray, times: np.ndarray, scores: np.ndarray, class_codes: np.ndarray,
            group: int, labelled: np.ndarray | None = None) -> None:
        """Append entries (a key already pending keeps its first copy). `labelled`: entries whose
        label came first (kept flagged: their label is joined already)."""
        rows = np.empty(len(keys), dtype=ENTRY)
        rows["k"], rows["t"], rows["s"], rows["c"], rows["g"] = keys, times, scores, class_codes, group
        self._buffer.append(rows)
        self._buffer_keys.update(rows["k"].tolist())
        if labelled is not None and labelled.any():
            self._buffer_labelled.update(rows["k"][labelled].tolist())
        if len(self._buffer_keys) >= FREEZE_AT:
            self.freeze()

    def locate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(chunk index, position) of each key in the frozen chunks (the oldest copy); -1 where
        not there."""
        keys = np.asarray(keys, dtype=np.uint64)
        where = np.full(len(keys), -1, dtype=np.int64)
        at = np.zeros(len(keys), dtype=np.int64)
        for i, chunk in enumerate(self.chunks):
            column = chunk.keys
            if not len(column):
                continue
            pos = np.searchsorted(column, keys)
            np.minimum(pos, len(column) - 1, out=pos)
            hit = (column[pos] == keys) & (where < 0)
            where[hit], at[hit] = i, pos[hit]
        return where, at

    def take_labels(self, keys: np.ndarray) -> tuple[list, np.ndarray]:
        """Each label's entry (None where its key is not pending) and whether the entry was
        labelled before; every found entry is labelled from now on. A key twice in `keys`: the
        first takes the entry, the second finds it labelled (first label wins)."""
        keys = np.asarray(keys, dtype=np.uint64)
        if self._buffer_keys and any(k in self._buffer_keys for k in keys.tolist()):
            self.freeze()  # labels within a second of their prediction: look them up frozen
        where, at = self.locate(keys)
        rows: list = [None] * len(keys)
        before = np.zeros(len(keys), dtype=bool)
        for i in np.flatnonzero(where >= 0).tolist():
            chunk, pos = self.chunks[int(where[i])], int(at[i])
            rows[i] = chunk.data[pos]
            before[i] = chunk.labelled[pos]
            if not before[i]:
                chunk.labelled[pos] = True
                chunk.flags_changed = True
        return rows, before

    def freeze(self, cutoff_ms: int | None = None) -> None:
        """The buffer into a sorted chunk, then merges of chunks of similar size."""
        if self._buffer:
            data = np.concatenate(self._buffer)
            labelled = np.isin(data["k"], np.fromiter(self._buffer_labelled, np.uint64)) \
                if self._buffer_labelled else np.zeros(len(data), dtype=bool)
            self.chunks.append(self._chunk(*_first_of_each_key(data, labelled)))
            self._buffer, self._buffer_keys, self._buffer_labelled = [], set(), set()
        while True:  # size-tiered: FAN_IN chunks of one tier at the tail become one of the next
            tail = self.chunks[-FAN_IN:]
            if len(tail) < FAN_IN or len({_tier(len(c.data)) for c in tail}) != 1:
                break
            del self.chunks[-FAN_IN:]
            data, labelled = _first_of_each_key(np.concatenate([c.data for c in tail]),
                                                np.concatenate([c.labelled for c in tail]))
            if cutoff_ms is not None:
                keep = data["t"] >= cutoff_ms
                data, labelled = data[keep], labelled[keep]
            self.chunks.append(self._chunk(data, labelled))

    def expire(self, cutoff_ms: int) -> int:
        """Drop entries older than `cutoff_ms` (event time); returns how many."""
        self.freeze()
        dropped, kept = 0, []
        for chunk in self.chunks:
            keep = chunk.data["t"] >= cutoff_ms
            if keep.all():
                kept.append(chunk)
                continue
            dropped += int((~keep).sum())
            if keep.any():
                kept.append(self._chunk(chunk.data[keep], chunk.labelled[keep]))
        self.chunks = kept
        return dropped

    def _chunk(self, data: np.ndarray, labelled: np.ndarray) -> Chunk:
        self.next_seq += 1
        return Chunk(self.next_seq, data, labelled, flags_changed=True)
