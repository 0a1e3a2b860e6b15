"""Reading reference data sets (CSV or JSON Lines of feature rows) into columns."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import orjson

from streams.errors import DriftlineError


def _csv_value(text: str) -> object:
    if text == "":
        return None
    try:
        return float(text) if any(c in text for c in ".eEn") else int(text)
    except ValueError:
        return text


def _rows(path: Path) -> Iterable[dict]:
    if not path.is_file():
        raise DriftlineError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        with path.open("rb") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise DriftlineError(f"{path}:{lineno}: not valid JSON ({exc})") from exc
                if not isinstance(row, dict):
                    raise DriftlineError(f"{path}:{lineno}: expected a JSON object per line")
                # Rows may be plain feature rows or whole prediction events.
                if isinstance(row.get("features"), dict):
                    merged = dict(row["features"])
                    if "prediction" in row:
                        merged.setdefault("prediction", row["prediction"])
                    row = merged
                yield row
    elif suffix in (".csv", ".tsv"):
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            if not reader.fieldnames:
                raise DriftlineError(f"{path}: the CSV file has no header row")
            for row in reader:
                yield {k: _csv_value(v or "") for k, v in row.items() if k is not None}
    else:
        raise DriftlineError(f"{path}: unknown file type {suffix!r} (use .csv, .tsv or .jsonl)")


def read_columns(path: Path, *, exclude: Iterable[str] = ()) -> dict[str, list[object]]:
    """Column name -> values (None where missing), in file order."""
    skip = set(exclude)
    columns: dict[str, list[object]] = {}
    n = 0
    for row in _rows(path):
        for name in row:
            if name not in columns and name not in skip:
                columns[name] = [None] * n
        for name, values in columns.items():
            value = row.get(name)
            values.append(value if isinstance(value, (int, float, str, bool)) or value is None else str(value))
        n += 1
    if n == 0:
        raise DriftlineError(f"{path}: no rows")
    return columns
