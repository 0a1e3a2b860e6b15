"""Times and durations as the CLI takes them (`--from`, `--to`, `--since`): one parser, so every
command reads `2026-01-02T10:00:00Z`, `1767348000000`, `now` and `-2h` the same way.

>>> parse_duration("90m"), parse_duration("1d"), parse_duration("45s")
(5400.0, 86400.0, 45.0)
>>> parse_time("2026-01-02T10:00:00Z"), parse_time("1767348000000")
(1767348000000, 1767348000000)
>>> parse_time("-1h", now_ms=10_000_000)
6400000
"""

from __future__ import annotations

import datetime as dt
import re
import time

from streams.errors import DriftlineError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float:
    """`30s`, `15m`, `2h`, `7d`, `1w` (or a plain number of seconds) as seconds; > 0."""
    value = text.strip().lower()
    match = _DURATION.fullmatch(value)
    try:
        seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else float(value)
    except ValueError:
        raise DriftlineError(f"not a duration: {text!r} (use e.g. 30s, 15m, 2h, 7d)") from None
    if not seconds > 0:
        raise DriftlineError(f"a duration must be positive: {text!r}")
    return seconds


def parse_time(text: str, now_ms: int | None = None) -> int:
    """A point in time as epoch ms: RFC 3339 / ISO 8601 (naive = UTC), epoch milliseconds, `now`,
    or a duration before now (`-2h`, `2h ago`)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    value = text.strip()
    if value.lower() == "now":
        return now
    if value.isdigit() and len(value) >= 12:  # epoch ms (12 digits: 1973 on); "2026" is no time
        return int(value)
    relative = value.removeprefix("-").removesuffix(" ago").strip()
    if relative != value and _DURATION.fullmatch(relative.lower()):
        return now - int(parse_duration(relative) * 1000)
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DriftlineError(f"not a time: {text!r} (use RFC 3339 like 2026-01-02T10:00:00Z, epoch ms, "
                             "now, or -2h)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


def utc_text(epoch_ms: int) -> str:
    """`2026-01-02 10:00:00` (UTC), how the commands show a window's start."""
    return dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
