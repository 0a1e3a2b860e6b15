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


def mean_std(values) -> tuple[float, float]:
    """Mean and population standard deviation of finite values without overflow: computed on
    values scaled by their largest magnitude (±1e300 squared is inf, scaled it is 1)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    scale = float(np.abs(values).max()) if values.size else 0.0
    if scale == 0.0 or not math.isfinite(scale):
        return float(values.mean()) if values.size else math.nan, 0.0 if values.size else math.nan
    scaled = values / scale
    return float(scaled.mean() * scale), float(scaled.std() * scale)
