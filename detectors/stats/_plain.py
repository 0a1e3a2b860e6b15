"""Helpers for plain-data state: fingerprints of references and JSON-safe non-finite floats."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping


def fingerprint(data: Mapping) -> str:
    """Short, stable hash of plain data: states remember their reference's and refuse another one."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_float(value: float) -> float | str:
    """A float as strict-JSON data: orjson and most stores reject NaN/inf, so those become strings."""
    return value if math.isfinite(value) else repr(float(value))


def decode_float(value: float | str) -> float:
    return float(value)
