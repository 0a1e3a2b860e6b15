"""Messages decoded by the native decoder (native/, Rust): batches and columnar envelopes
(schemas/envelope.py) straight into columns.

The worker's hot path for `{"events": [...]}` messages: no Python object per event or per
feature value, so decoding a batch costs a few µs per event instead of a decode plus a column
extraction. A one-event message (validated by msgspec, which is faster for one event) is kept as
its bytes plus the few fields the worker routes it by (`RawEvent`); its features are decoded and
binned later, many messages joined into one batch.

Like `fast_path`, it never rejects anything itself: `decode_columns` returns None for whatever it
is not sure is valid (and always when the extension was not built), and the caller takes the
Python path, which accepts exactly what pydantic accepts (tests/schemas compare both).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

try:
    from schemas import _columnar
except ImportError:  # installed without a Rust toolchain: the Python path does all the work
    _columnar = None

NATIVE = _columnar is not None


@dataclass(frozen=True)
class Strings:
    """The string values of a column, dictionary-encoded: row i holds uniques[codes[i]], and
    codes[i] == -1 where it holds no string. `codes` is None when no row holds a string."""

    codes: np.ndarray | None
    uniques: list[str]

    def take(self, rows: np.ndarray) -> "Strings":
        return self if self.codes is None else Strings(self.codes[rows], self.uniques)


@dataclass(frozen=True)
class FeatureColumn:
    """One feature: `values` holds numbers (booleans as 0/1) and NaN elsewhere; `numbers` and
    `strings` count the rows holding a number or a string (the rest is null or absent)."""

    values: np.ndarray
    numbers: int
    strings: int
    labels: Strings

    def take(self, rows: np.ndarray) -> "FeatureColumn":
        values = self.values[rows]
        labels = self.labels.take(rows)
        strings = 0 if labels.codes is None else int(np.count_nonzero(labels.codes >= 0))
        numbers = int(np.count_nonzero(~np.isnan(values)))
        return FeatureColumn(values, numbers, strings, labels)


@dataclass(frozen=True)
class EventColumns:
    """The valid events of one batch message, column-wise, in message order."""

    timestamps: np.ndarray  # int64 epoch ms
    event_ids: list[str]
    groups: list[tuple[str, str]]  # distinct (model_id, model_version)
    group_codes: np.ndarray  # uint32: each row's index into groups
    latency_ms: np.ndarray  # NaN where absent or null
    scores: np.ndarray  # prediction as a number (top probability of a map), NaN for labels
    labels: Strings  # predictions that are strings
    features: dict[str, FeatureColumn]
    raw: bytes = field(repr=False)  # the message, for the rare column not kept here (see rows)
    rows: np.ndarray | None = None  # positions in the message's events, when taken from it

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def all_labels(self) -> bool:
        """Whether every prediction is a string."""
        return self.labels.codes is not None and bool((self.labels.codes >= 0).all())

    def take(self, rows: np.ndarray) -> "EventColumns":
        """The given rows (positions in this batch), in that order."""
        return EventColumns(
            self.timestamps[rows], [self.event_ids[i] for i in rows], self.groups, self.group_codes[rows],
            self.latency_ms[rows], self.scores[rows], self.labels.take(rows),
            {name: f.take(rows) for name, f in self.features.items()}, self.raw,
            rows if self.rows is None else self.rows[rows])


def concat_columns(batches: list[EventColumns]) -> EventColumns:
    """Several batches as one, in order (string dictionaries merged). The result has no `raw`:
    callers concatenate only batches that will not need their message again."""
    if len(batches) == 1:
        return batches[0]
    sizes = [len(b) for b in batches]
    groups: dict[tuple[str, str], int] = {}
    group_codes = []
    for b in batches:
        lut = np.array([groups.setdefault(g, len(groups)) for g in b.groups], dtype=np.uint32)
        group_codes.append(lut[b.group_codes])
    names = list(dict.fromkeys(name for b in batches for name in b.features))
    features = {}
    for name in names:
        parts = [b.features.get(name) for b in batches]
        features[name] = FeatureColumn(
            np.concatenate([np.full(n, np.nan) if f is None else f.values for f, n in zip(parts, sizes)]),
            sum(f.numbers for f in parts if f is not None), sum(f.strings for f in parts if f is not None),
            _merge_strings([(None if f is None else f.labels, n) for f, n in zip(parts, sizes)]))
    return EventColumns(
        np.concatenate([b.timestamps for b in batches]), [i for b in batches for i in b.event_ids], list(groups),
        np.concatenate(group_codes), np.concatenate([b.latency_ms for b in batches]),
        np.concatenate([b.scores for b in batches]), _merge_strings([(b.labels, n) for b, n in zip(batches, sizes)]),
        features, b"")


def _merge_strings(parts: list[tuple[Strings | None, int]]) -> Strings:
    if all(s is None or s.codes is None for s, _ in parts):
        return Strings(None, [])
    index: dict[str, int] = {}
    codes = []
    for s, n in parts:
        if s is None or s.codes is None:
            codes.append(np.full(n, -1, dtype=np.int32))
            continue
        # The extra last entry maps code -1 (no string) to -1.
        lut = np.array([index.setdefault(u, len(index)) for u in s.uniques] + [-1], dtype=np.int32)
        codes.append(lut[s.codes])
    return Strings(np.concatenate(codes), list(index))


def _f64(buffer) -> np.ndarray:
    return np.frombuffer(buffer, dtype=np.float64)


def _strings(pair) -> Strings:
    codes, uniques = pair
    return Strings(None if codes is None else np.frombuffer(codes, dtype=np.int32), uniques)


def decode_columns(raw: bytes) -> EventColumns | None:
    """The columns of a plainly valid batch message, or None when unsure (or not built)."""
    return None if _columnar is None else _from_native(_columnar.decode_batch(raw), raw)


def decode_envelope_columns(raw: bytes) -> EventColumns | None:
    """The columns of a plainly valid columnar envelope (schemas/envelope.py), or None when
    unsure (or not built)."""
    return None if _columnar is None else _from_native(_columnar.decode_envelope(raw), raw)


def _from_native(d: dict | None, raw: bytes) -> EventColumns | None:
    if d is None or d["rows"] == 0:
        return None
    features = {name: FeatureColumn(_f64(values), numbers, strings, _strings(labels))
                for name, (values, numbers, strings, labels) in d["features"].items()}
    return EventColumns(np.frombuffer(d["timestamps"], dtype=np.int64), d["event_ids"], d["groups"],
                        np.frombuffer(d["group_codes"], dtype=np.uint32), _f64(d["latency_ms"]),
                        _f64(d["scores"]), _strings(d["labels"]), features, raw)


class RawEvent:
    """A valid one-event message kept as its bytes, with the fields it is routed by."""

    __slots__ = ("event_id", "model_id", "model_version", "timestamp", "latency_ms", "score", "raw")

    def __init__(self, raw: bytes, event_id: str, model_id: str, model_version: str, timestamp: int,
                 latency_ms: float | None, score: float) -> None:
        self.raw = raw
        self.event_id = event_id
        self.model_id = model_id
        self.model_version = model_version
        self.timestamp = timestamp  # epoch ms
        self.latency_ms = latency_ms
        self.score = score  # the prediction as a number (see EventColumns.scores)

    def __repr__(self) -> str:
        return f"RawEvent({self.event_id!r}, model={self.model_id!r}@{self.model_version!r}, t={self.timestamp})"


def keep_raw(raw: bytes, event, score: float) -> RawEvent | None:
    """A validated one-event message as a RawEvent (None without the native decoder, which the
    later batch decoding needs). `event` is the decoded event (schemas.fast_path.WireEvent)."""
    if _columnar is None:
        return None
    return RawEvent(raw, event.event_id, event.model_id, event.model_version, event.timestamp, event.latency_ms,
                    score)


def join_events(raws: list[bytes]) -> bytes:
    """One batch message made of one-event messages (each a JSON object)."""
    return b'{"events":[' + b",".join(raws) + b"]}"


def refusal(raw: bytes) -> str | None:
    """Why the native decoder refuses a message (diagnostics and tests); None if it accepts it."""
    return None if _columnar is None else _columnar.refusal(raw)


def envelope_refusal(raw: bytes) -> str | None:
    """Why the native decoder refuses an envelope; None if it accepts it."""
    return None if _columnar is None else _columnar.envelope_refusal(raw)
