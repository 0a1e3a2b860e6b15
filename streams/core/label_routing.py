"""Labels from `<prefix>.labels` to their join partitions (schemas/join.py); bad ones to the
labels DLQ with a reason, one by one, so one bad label in a batch loses nothing else."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from schemas import GroundTruth, event_time_ms
from schemas.join import RoutedLabel, RoutedLabels, encode_join_message, join_partition
from schemas.prediction import MAX_MESSAGE_BYTES, too_deeply_nested


@dataclass(frozen=True)
class Routed:
    messages: list[tuple[int, bytes]]  # (join partition, RoutedLabels)
    rejects: list[tuple[bytes, str]]  # (value, "<code>: <detail>")


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_input=False)[0]
    return f"invalid_label: {'.'.join(map(str, first['loc'])) or 'label'}: {first['msg']}"


def route_labels(raw: bytes | None, partition: int, offset: int, join_partitions: int) -> Routed:
    """One labels-topic message: a label `{...}` or a batch `{"labels": [...]}`."""
    if not raw:
        return Routed([], [(raw or b"", "empty: a label message needs a JSON object")])
    if len(raw) > MAX_MESSAGE_BYTES:
        return Routed([], [(raw, f"too_large: {len(raw)} bytes (limit {MAX_MESSAGE_BYTES})")])
    if too_deeply_nested(raw):
        return Routed([], [(raw, "not_json: nested too deeply")])
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Routed([], [(raw, f"not_json: {exc}")])
    if isinstance(data, dict) and "labels" in data:
        items = data["labels"]
        if not isinstance(items, list):
            return Routed([], [(raw, "invalid_batch: labels must be a list")])
    elif isinstance(data, dict):
        items = [data]
    else:
        return Routed([], [(raw, "invalid_label: a label message must be a JSON object")])
    groups: dict[int, list[RoutedLabel]] = defaultdict(list)
    rejects = []
    for item in items:
        try:
            label = GroundTruth.model_validate(item)
        except ValidationError as exc:
            rejects.append((orjson.dumps(item), _reason(exc)))
            continue
        j = join_partition(label.model_id, label.event_id, join_partitions)
        groups[j].append(RoutedLabel(event_id=label.event_id, model_id=label.model_id,
                                     model_version=label.model_version, label=label.label,
                                     time_ms=event_time_ms(label.timestamp)))
    messages = [(j, encode_join_message(RoutedLabels(source_partition=partition, source_offset=offset,
                                                     labels=labels))) for j, labels in sorted(groups.items())]
    return Routed(messages, rejects)
