"""The report's charts as inline SVG strings: lines over time, a heatmap, grouped bars and a
timeline. Drawn here rather than by a JavaScript plotting library so that the report is one small
file that opens anywhere without a network or scripts (and shows the same in a mail or a CI
artefact); hovering a mark shows its value (an SVG <title>).

>>> svg = line_chart([Series("count", [(0, 1.0), (60_000, 3.0)])], x_range=(0, 120_000), y_title="events")
>>> svg.startswith("<svg") and svg.count("<polyline") == 1
True
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.commands.svg_axes import (HEAT_STOPS, Scale, colour, heat, nice_ticks, number, text, time_ticks,
                                       utc_label, value_label)

WIDTH = 960
PLOT_HEIGHT = 200
TOP = 34  # room for the legend
BOTTOM = 42
LEFT = 64
RIGHT = 16
ROW = 18  # a heatmap or timeline row
MAX_MARKERS = 400  # points with a hover tooltip; past this a line is drawn without them (file size)


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[int, float]]  # (epoch ms, value), in time order


@dataclass(frozen=True)
class Cell:
    row: int
    start_ms: int
    value: float
    marked: bool  # drawn with a dark strip: e.g. the window's drift verdict fired
    tip: str


@dataclass(frozen=True)
class Bar:
    row: int
    start_ms: int
    end_ms: int
    fill: str
    tip: str


def _svg(height: float, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {number(height)}" width="{WIDTH}" '
            f'height="{number(height)}" role="img" aria-label="{text(label)}" font-family="sans-serif" '
            f'font-size="11">' + "".join(body) + "</svg>")


def _legend(names: list[tuple[str, str]]) -> list[str]:
    out, x = [], LEFT
    for name, fill in names:
        out.append(f'<rect x="{x}" y="10" width="12" height="12" fill="{fill}"/>'
                   f'<text x="{x + 16}" y="20">{text(name)}</text>')
        x += 28 + 7 * len(name)
    return out


def _time_axis(x: Scale, y0: float, x_range: tuple[int, int]) -> list[str]:
    span = x_range[1] - x_range[0]
    out = [f'<line x1="{number(x.start)}" y1="{number(y0)}" x2="{number(x.end)}" y2="{number(y0)}" stroke="#888"/>']
    for t in time_ticks(*x_range):
        px = number(x(t))
        anchor = "end" if x(t) > x.end - 24 else "middle"  # the last label stays inside the chart
        out.append(f'<line x1="{px}" y1="{number(y0)}" x2="{px}" y2="{number(y0 + 4)}" stroke="#888"/>'
                   f'<text x="{px}" y="{number(y0 + 16)}" text-anchor="{anchor}">{utc_label(t, span)}</text>')
    out.append(f'<text x="{number(x.end)}" y="{number(y0 + 32)}" text-anchor="end" fill="#555">UTC</text>')
    return out


def _value_axis(y: Scale, ticks: list[float], title: str, percent: bool, left: float = LEFT) -> list[str]:
    out = [f'<text x="12" y="{number((y.start + y.end) / 2)}" transform="rotate(-90 12 '
           f'{number((y.start + y.end) / 2)})" text-anchor="middle" fill="#555">{text(title)}</text>']
    for v in ticks:
        py = number(y(v))
        label = f"{v * 100:.4g}%" if percent else value_label(v)
        out.append(f'<line x1="{number(left)}" y1="{py}" x2="{WIDTH - RIGHT}" y2="{py}" stroke="#eee"/>'
                   f'<text x="{number(left - 6)}" y="{number(y(v) + 4)}" text-anchor="end">{label}</text>')
    return out


def _empty(body: list[str], y_mid: float, message: str) -> None:
    body.append(f'<text x="{WIDTH / 2}" y="{number(y_mid)}" text-anchor="middle" fill="#777">{text(message)}</text>')


def line_chart(series: list[Series], *, x_range: tuple[int, int], y_title: str, gap_ms: int | None = None,
               percent: bool = False, empty: str = "no data in range", left: float = LEFT) -> str:
    """Lines over time, one per series; a line breaks where consecutive points are more than
    `gap_ms` apart (windows without events). `left`: where the plot begins (plot_left), so that
    the time axes of a page's charts line up."""
    y0 = TOP + PLOT_HEIGHT
    x = Scale(x_range[0], x_range[1], left, WIDTH - RIGHT)
    values = [v for s in series for _, v in s.points]
    ticks = nice_ticks(min([0.0, *values]), max([0.0, *values]) or (0.01 if percent else 1.0))
    y = Scale(ticks[0], ticks[-1], y0, TOP)
    body = _legend([(s.name, colour(i)) for i, s in enumerate(series)]) + _value_axis(y, ticks, y_title, percent, left)
    body += _time_axis(x, y0, x_range)
    if not values:
        _empty(body, TOP + PLOT_HEIGHT / 2, empty)
    markers = sum(len(s.points) for s in series) <= MAX_MARKERS
    for i, s in enumerate(series):
        runs: list[list[tuple[int, float]]] = []
        for t, v in s.points:
            if not runs or (gap_ms is not None and t - runs[-1][-1][0] > gap_ms):
                runs.append([])
            runs[-1].append((t, v))
        for run in runs:
            coords = " ".join(f"{number(x(t))},{number(y(v))}" for t, v in run)
            body.append(f'<polyline points="{coords}" fill="none" stroke="{colour(i)}" stroke-width="1.6"/>')
        if markers:
            for t, v in s.points:
                tip = f"{s.name} {utc_label(t, 0)}: {f'{v * 100:.3g}%' if percent else value_label(v)}"
                body.append(f'<circle cx="{number(x(t))}" cy="{number(y(v))}" r="2.4" fill="{colour(i)}">'
                            f'<title>{text(tip)}</title></circle>')
    return _svg(y0 + BOTTOM, body, y_title)


def plot_left(labels: list[str]) -> float:
    """Where a plot begins when rows are labelled with `labels` on its left."""
    return max(LEFT, 12 + 6.5 * max((len(label) for label in labels), default=0))


def _row_labels(labels: list[str], left: float) -> list[str]:
    return [f'<text x="{number(left - 6)}" y="{number(TOP + i * ROW + ROW * 0.7)}" text-anchor="end">'
            f'{text(label)}</text>' for i, label in enumerate(labels)]


def heatmap(rows: list[str], cells: list[Cell], *, x_range: tuple[int, int], cell_ms: int, title: str,
            empty: str = "no data in range", left: float | None = None) -> str:
    """One row per label, one cell per window coloured by value (svg_axes.heat), marked cells
    with a dark strip on top; a colour bar of the scale above."""
    left = plot_left(rows) if left is None else left
    body = _row_labels(rows, left)
    x = Scale(x_range[0], x_range[1], left, WIDTH - RIGHT)
    width = max(1.0, x(x_range[0] + cell_ms) - x(x_range[0]))
    for cell in cells:
        cx, cy = number(x(cell.start_ms)), TOP + cell.row * ROW + 1
        # A mark is a dark strip along the cell's top: visible however narrow the cells get.
        mark = f'<rect x="{cx}" y="{cy}" width="{number(width)}" height="4" fill="#000"/>' if cell.marked else ""
        body.append(f'<g><title>{text(cell.tip)}</title><rect x="{cx}" y="{cy}" width="{number(width)}" '
                    f'height="{ROW - 2}" fill="{heat(cell.value)}"/>{mark}</g>')
    y0 = TOP + max(1, len(rows)) * ROW
    if not cells:
        _empty(body, TOP + ROW * 0.7, empty)
    body += _time_axis(x, y0 + 2, x_range)
    body.append(f'<text x="{LEFT}" y="20">{text(title)}</text>')
    for i, stop in enumerate(HEAT_STOPS):  # the colour bar: each stop's colour and value
        bx = WIDTH - RIGHT - (len(HEAT_STOPS) - i) * 44
        body.append(f'<rect x="{bx}" y="8" width="44" height="12" fill="{heat(stop)}" stroke="#ccc"/>'
                    f'<text x="{bx + 2}" y="31" font-size="10">{"≥ " if i == len(HEAT_STOPS) - 1 else ""}'
                    f'{stop:g}</text>')
    key = WIDTH - RIGHT - len(HEAT_STOPS) * 44 - 110
    body.append(f'<rect x="{key}" y="8" width="12" height="12" fill="{heat(0.0)}" stroke="#ccc"/>'
                f'<rect x="{key}" y="8" width="12" height="4" fill="#000"/>'
                f'<text x="{key + 16}" y="18">drift verdict</text>')
    return _svg(y0 + BOTTOM, body, title)


def grouped_bars(labels: list[str], groups: list[tuple[str, list[float]]], *, y_title: str,
                 fills: tuple[str, ...] = ("#9e9e9e", "#D55E00", "#0072B2")) -> str:
    """Shares per bin: one bar per group in each bin (e.g. reference, worst window, latest)."""
    y0 = TOP + PLOT_HEIGHT
    values = [v for _, vs in groups for v in vs]
    ticks = nice_ticks(0.0, max(values, default=0.0) or 0.1)
    y = Scale(ticks[0], ticks[-1], y0, TOP)
    body = _legend([(name, fills[i % len(fills)]) for i, (name, _) in enumerate(groups)])
    body += _value_axis(y, ticks, y_title, percent=True)
    slot = (WIDTH - RIGHT - LEFT) / max(1, len(labels))
    bar = slot * 0.8 / max(1, len(groups))
    rotate = max((len(label) for label in labels), default=0) * 6 > slot
    for b, label in enumerate(labels):
        x0 = LEFT + b * slot + slot * 0.1
        for g, (name, vs) in enumerate(groups):
            v = vs[b]
            body.append(f'<rect x="{number(x0 + g * bar)}" y="{number(y(v))}" width="{number(bar)}" '
                        f'height="{number(y0 - y(v))}" fill="{fills[g % len(fills)]}">'
                        f'<title>{text(f"{name}, {label}: {v * 100:.3g}%")}</title></rect>')
        cx = number(LEFT + (b + 0.5) * slot)
        shown = label if len(label) <= 18 else label[:17] + "…"
        turn = f' transform="rotate(-30 {cx} {number(y0 + 14)})" text-anchor="end"' if rotate else \
            ' text-anchor="middle"'
        body.append(f'<text x="{cx}" y="{number(y0 + 14)}"{turn}>{text(shown)}</text>')
    body.append(f'<line x1="{LEFT}" y1="{y0}" x2="{WIDTH - RIGHT}" y2="{y0}" stroke="#888"/>')
    return _svg(y0 + BOTTOM + (30 if rotate else 0), body, y_title)


def timeline(rows: list[str], bars: list[Bar], *, x_range: tuple[int, int], legend: list[tuple[str, str]],
             empty: str = "nothing in range", left: float | None = None) -> str:
    """Spans over time, one row per label (e.g. incidents from opening to resolve)."""
    left = plot_left(rows) if left is None else left
    body = _row_labels(rows, left)
    x = Scale(x_range[0], x_range[1], left, WIDTH - RIGHT)
    for b in bars:
        x1, x2 = x(max(b.start_ms, x_range[0])), x(min(b.end_ms, x_range[1]))
        body.append(f'<rect x="{number(x1)}" y="{number(TOP + b.row * ROW + 3)}" width="{number(max(2.0, x2 - x1))}" '
                    f'height="{ROW - 6}" rx="3" fill="{b.fill}"><title>{text(b.tip)}</title></rect>')
    y0 = TOP + max(1, len(rows)) * ROW
    if not bars:
        _empty(body, TOP + ROW * 0.7, empty)
    body += _legend(legend) + _time_axis(x, y0 + 2, x_range)
    return _svg(y0 + BOTTOM, body, "timeline")
