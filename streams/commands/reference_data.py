"""Reading data sets (CSV or JSON Lines of feature rows) into columns.

CSV cells have no type, so a CSV column is decided as a whole: numeric when every present cell
is a number, else text (then `1`, `2` and `x` are three categories, in the reference and in the
windows alike). A data set read against a profile takes each feature's kind from the profile
instead: a numeric feature's text cells are type errors, a categorical feature's numbers are the
categories they spell. Missing, in CSV: an empty cell or one of MISSING_SPELLINGS (any case);
in JSON Lines: null or an absent key.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import orjson

from streams.errors import DriftlineError


MISSING_SPELLINGS = ("", "na", "n/a", "nan", "null", "none")


def _csv_cell(text: str) -> str | None:
    return None if text.strip().lower() in MISSING_SPELLINGS else text


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


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
                yield {k: _csv_cell(v or "") for k, v in row.items() if k is not None}
    else:
        raise DriftlineError(f"{path}: unknown file type {suffix!r} (use .csv, .tsv or .jsonl)")


def read_columns(path: Path, *, exclude: Iterable[str] = (),
                 kinds: dict[str, str] | None = None) -> dict[str, list[object]]:
    """Column name -> values (None where missing), in file order. `kinds`: feature -> "numeric"
    or "categorical", from a profile; CSV columns not in it are typed as a whole."""
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
    if path.suffix.lower() in (".csv", ".tsv"):
        for name, values in columns.items():
            columns[name] = _typed(values, (kinds or {}).get(name))
    return columns


def _typed(cells: list, kind: str | None) -> list:
    if kind == "categorical":
        return cells
    numbers = [None if c is None else _number(c) for c in cells]
    if kind == "numeric":  # text where a number belongs stays text: a type error, counted
        return [c if n is None and c is not None else n for c, n in zip(cells, numbers)]
    if all(n is not None for c, n in zip(cells, numbers) if c is not None):
        return numbers
    return cells
