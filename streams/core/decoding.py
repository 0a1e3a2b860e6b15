"""From one Kafka message value to valid events plus rejects for the DLQ.

A value is one event (JSON object), a batch `{"events": [...]}` or a columnar envelope
(schemas/envelope.py). In a batch only the bad events are rejected, in an envelope only the bad
rows; a reject of a batch member or an envelope row carries that event re-serialised as JSON (the
message's original bytes are not split), a reject of a whole message carries its original bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from schemas import MAX_MESSAGE_BYTES, MAX_NESTING, PredictionEvent, event_time_ms, too_deeply_nested
from schemas.columnar import EventColumns, RawEvent, decode_columns, decode_envelope_columns, keep_raw
from schemas.envelope import PredictionEnvelope, is_envelope
from schemas.fast_path import WireEvent, fast_decode, fast_decode_envelope
from streams.core.columns import prediction_score


HEAD_BYTES = 512  # an envelope's model id and version come before its columns (schemas/envelope.py)


@dataclass(frozen=True)
class Reject:
    value: bytes
    reason: str  # "<code>: <detail>", code one of too_large, not_json, invalid_batch, invalid_event,
    # undecodable (the decoder failed on it: a bug of ours, reported with the exception)


@dataclass
class Decoded:
    events: list[WireEvent | RawEvent] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    columns: EventColumns | None = None  # a valid batch, decoded column-wise (then events is empty)
    # What the label join keeps of the valid events, when the worker computed it beside the
    # decoding (its read-ahead thread, off the event loop); None: not computed.
    pending: list | None = None

    @property
    def valid(self) -> list[WireEvent | RawEvent] | EventColumns:
        """The valid events, in whichever form they were decoded."""
        return self.events if self.columns is None else self.columns


def decode_message(raw: bytes | None) -> Decoded:
    """Never raises: whatever goes wrong while decoding one message rejects that message alone."""
    try:
        return _decode(raw)
    except RecursionError as exc:
        return Decoded(rejects=[Reject(raw or b"", f"not_json: {exc}")])
    except Exception as exc:  # a decoder bug or a hostile input: one message lost to the DLQ, not the worker
        return Decoded(rejects=[Reject(raw or b"", f"undecodable: {type(exc).__name__}: {str(exc)[:200]}")])


def _decode(raw: bytes | None) -> Decoded:
    if raw is None:
        return Decoded(rejects=[Reject(b"", "not_json: empty message value")])
    if len(raw) > MAX_MESSAGE_BYTES:
        return Decoded(rejects=[Reject(raw, f"too_large: {len(raw)} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")])
    batch, envelope = _shape(raw)
    if batch or envelope:  # straight into columns when plainly valid
        columns = decode_columns(raw) if batch else decode_envelope_columns(raw)
        if columns is not None:
            return Decoded(columns=columns)
    # The rare paths below were written for the exact flags (a key anywhere in the message).
    batch = b'"events"' in raw
    envelope = not batch and b'"columns"' in raw
    if too_deeply_nested(raw):  # before any decoder that recurses
        return Decoded(rejects=[Reject(raw, f"not_json: nested deeper than {MAX_NESTING} levels")])
    if envelope and (rows := fast_decode_envelope(raw)) is not None:
        return Decoded(events=rows)
    events = fast_decode(raw)  # past this point not an envelope's rows: they would have been taken above
    if events is not None:
        if not batch and (kept := keep_raw(raw, events[0], prediction_score(events[0].prediction))) is not None:
            # One event: its features are decoded again later, with many others, into columns.
            return Decoded(events=[kept])
        return Decoded(events=events)
    return _decode_slowly(raw)


def _shape(raw: bytes) -> tuple[bool, bool]:
    """Which native decoder to try: hints only (a single event may hold either key, an envelope
    may name a feature "events"), the decoders decide. Batches and the SDK's envelopes name their
    key first, so the head usually tells; searching a whole 100 KB message for a key costs ~60 µs
    with the GIL held, a quarter of a microsecond per event."""
    head = raw[:HEAD_BYTES]
    events, columns = head.find(b'"events"'), head.find(b'"columns"')
    if events >= 0 and (columns < 0 or events < columns):
        return True, False
    if columns >= 0:  # first: an envelope's feature may be named "events"
        return False, True
    batch = b'"events"' in raw
    return batch, not batch and b'"columns"' in raw


def decode_rows(raw: bytes) -> list[WireEvent]:
    """The valid events of a message, one object each (the native decoder's fallback)."""
    events = fast_decode(raw)
    return events if events is not None else _decode_slowly(raw).events


def _decode_slowly(raw: bytes) -> Decoded:
    """Event by event, so that one bad event does not take its batch down; pydantic explains."""
    out = Decoded()
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        out.rejects.append(Reject(raw, f"not_json: {exc}"))
        return out
    if obj.__class__ is dict and "events" in obj and "event_id" not in obj:
        events = obj["events"]
        if events.__class__ is not list:
            out.rejects.append(Reject(raw, "invalid_batch: 'events' must be a list of events"))
            return out
        for event in events:
            _accept_or_reject(event, None, out)
    elif is_envelope(obj):
        try:
            envelope = PredictionEnvelope.model_validate(obj)
        except ValidationError as exc:
            out.rejects.append(Reject(raw, f"invalid_batch: {_explain(exc)}"))
            return out
        for row in envelope.rows():
            _accept_or_reject(row, None, out)
    else:
        _accept_or_reject(obj, raw, out)
    return out


def _accept_or_reject(event: object, raw: bytes | None, out: Decoded) -> None:
    try:
        model = PredictionEvent.model_validate(event)
    except ValidationError as exc:
        value = raw if raw is not None else orjson.dumps(event)
        out.rejects.append(Reject(value, f"invalid_event: {_explain(exc)}"))
        return
    out.events.append(WireEvent(
        event_id=model.event_id, model_id=model.model_id, timestamp=event_time_ms(model.timestamp),
        features=model.features, prediction=model.prediction, model_version=model.model_version,
        latency_ms=model.latency_ms))


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
