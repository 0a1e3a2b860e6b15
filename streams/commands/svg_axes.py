"""Scales, ticks and text for the report's SVG charts (svg_charts.py): pure functions, no I/O.

>>> nice_ticks(0.0, 0.93)
[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
>>> [utc_label(t, 3_600_000) for t in time_ticks(0, 3_600_000)][:3]
['00:00', '00:10', '00:20']
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from html import escape

# Tick steps of a time axis, from 1 s to a week; the first giving at most ~8 ticks is used.
_TIME_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
                 172_800, 604_800)
MAX_TICKS = 8


def text(value: object) -> str:
    """Text safe inside an SVG/HTML element or attribute."""
    return escape(str(value), quote=True)


def number(value: float) -> str:
    """A coordinate, short: SVG files of many cells stay small."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Scale:
    """Linear map of [lo, hi] onto [start, end] (pixels; end < start for a y axis)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        share = 0.5 if span == 0 else (value - self.lo) / span
        return self.start + share * (self.end - self.start)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values covering [lo, hi], about `count` of them (1, 2 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks = []
    value = first
    while value < hi + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    return ticks


def time_ticks(lo_ms: int, hi_ms: int) -> list[int]:
    """Tick times (epoch ms) on round UTC steps inside [lo_ms, hi_ms]."""
    span_s = max(1.0, (hi_ms - lo_ms) / 1000)
    step_s = next((s for s in _TIME_STEPS_S if span_s / s <= MAX_TICKS), _TIME_STEPS_S[-1])
    step = step_s * 1000
    first = -(-lo_ms // step) * step
    return list(range(first, hi_ms + 1, step))


def utc_label(epoch_ms: int, span_ms: int) -> str:
    """A tick's text: seconds for short spans, the date for spans over a day."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.timezone.utc)
    if span_ms > 86_400_000:
        return moment.strftime("%m-%d %H:%M")
    return moment.strftime("%H:%M:%S" if span_ms < 600_000 else "%H:%M")


def value_label(value: float) -> str:
    """A tick or tooltip value: 4 significant digits, thousands apart."""
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.2e}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


# Categorical colours (colour-blind safe, Okabe-Ito) for series; drift shades from pale to dark red.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_HEAT = ((0.0, (247, 251, 255)), (0.1, (253, 212, 158)), (0.2, (252, 141, 89)), (0.5, (215, 48, 31)),
         (1.0, (127, 0, 0)))
HEAT_STOPS = tuple(stop for stop, _ in _HEAT)


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def heat(value: float) -> str:
    """PSI (or any drift statistic on PSI's scale) as a colour: 0.1 minor, 0.2 major, >= 1 darkest."""
    if not math.isfinite(value):
        return "#dddddd"
    value = max(0.0, value)
    for (a, ca), (b, cb) in zip(_HEAT, _HEAT[1:]):
        if value <= b:
            share = (value - a) / (b - a)
            return "#" + "".join(f"{round(x + share * (y - x)):02x}" for x, y in zip(ca, cb))
    return "#%02x%02x%02x" % _HEAT[-1][1]
