"""The provisioned Grafana dashboard as data, and its queries as Grafana 11 would send them to
InfluxDB: template variables replaced the way Grafana's frontend does, then the Flux macros
(`v.timeRangeStart`, `v.windowPeriod`, ...) the way its InfluxDB backend does
(pkg/tsdb/influxdb/flux/macros.go), so a test can run them against a real influxd without Grafana."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy/grafana/dashboards/driftline.json"
DATASOURCE = ROOT / "deploy/grafana/provisioning/datasources/influxdb.yml"
ALL = object()  # a variable set to Grafana's "All"
SCREEN_PX = 1920  # Grafana's maxDataPoints is the panel's width in pixels; a full-HD screen here


@dataclass(frozen=True)
class Query:
    kind: str  # "panel", "annotation" or "variable"
    title: str
    flux: str
    width: int = 24  # grid columns (of 24), for the panel's maxDataPoints
    repeat: str | None = None  # the variable a repeated row or panel gives a single value


def load() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(dashboard: Mapping) -> Iterator[tuple[dict, str | None]]:
    """Every panel with the variable its row repeats by (collapsed rows keep theirs inside)."""
    repeat = None
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            repeat = panel.get("repeat")
            for inner in panel.get("panels", []):
                yield inner, repeat
            continue
        yield panel, panel.get("repeat") or repeat


def queries(dashboard: Mapping) -> list[Query]:
    out = [Query("panel", p["title"], t["query"], p["gridPos"]["w"], repeat)
           for p, repeat in panels(dashboard) for t in p.get("targets", []) if not t.get("hide")]
    out += [Query("annotation", a["name"], a["target"]["query"])
            for a in dashboard["annotations"]["list"] if a.get("target", {}).get("query")]
    out += [Query("variable", v["name"], v["query"]) for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return out


def min_interval_ms() -> int:
    """The datasource's `timeInterval`, Grafana's lower bound for v.windowPeriod."""
    found = re.search(r"^\s*timeInterval:\s*(\d+)(ms|s|m|h)\s*$", DATASOURCE.read_text(), re.M)
    assert found, f"no timeInterval in {DATASOURCE}"
    return int(found[1]) * {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}[found[2]]


# rangeutil.roundInterval of @grafana/data: (below this many ms, round to this many ms).
_LADDER = [(10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
           (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000), (90000, 60000),
           (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
           (2700000, 1800000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000),
           (32400000, 21600000), (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000),
           (3628800000, 2592000000)]


def interval_ms(start: datetime, stop: datetime, width: int, low_limit_ms: int) -> int:
    """rangeUtil.calculateInterval: the range over the panel's pixels, rounded, at least the limit.

    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> interval_ms(t0, t0.replace(day=2), 24, 10_000), interval_ms(t0, t0.replace(minute=30), 12, 10_000)
    (60000, 10000)
    """
    raw = (stop - start).total_seconds() * 1000 / (SCREEN_PX * width / 24)
    rounded = next((step for below, step in _LADDER if raw < below), 31536000000)
    return max(rounded, low_limit_ms)


def go_duration(ms: int) -> str:
    """time.Duration.String() of Go, which Grafana puts in place of v.windowPeriod.

    >>> go_duration(10_000), go_duration(60_000), go_duration(3_600_000), go_duration(1_500), go_duration(500)
    ('10s', '1m0s', '1h0m0s', '1.5s', '500ms')
    """
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    return (f"{hours}h{minutes}m" if hours else f"{minutes}m" if minutes else "") + seconds


def rfc3339nano(t: datetime) -> str:
    """Go's RFC3339Nano in UTC (trailing zeros of the fraction dropped), unquoted as Grafana writes it.

    >>> rfc3339nano(datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=timezone.utc))
    '2026-01-02T03:04:05.12Z'
    """
    text = t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def _regex_escape(value: str) -> str:
    return re.sub(r"[\\^$*+?.()|\[\]{}/]", lambda m: "\\" + m[0], value)  # kbn.regexEscape


def _format(value, fmt: str | None, all_value: str | None) -> str:
    if value is ALL:
        if all_value is None:
            raise ValueError("All without a custom allValue is not emulated")
        return all_value  # Grafana does not format a custom all value (except text/queryparam formats)
    values = [value] if isinstance(value, str) else list(value)
    if fmt == "regex":
        escaped = [_regex_escape(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt in (None, "raw"):
        if len(values) == 1:
            return values[0]
        return "{" + ",".join(values) + "}"  # the glob format, Grafana's default for several values
    raise ValueError(f"variable format {fmt!r} is not emulated")


_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)")


def template(flux: str, values: Mapping[str, object], all_values: Mapping[str, str | None]) -> str:
    """templateSrv.replace: `${name}`, `${name:format}`, `[[name]]`, `$name`; unknown names stay.

    >>> template('r.m =~ /^${m:regex}$/ and r.f == "$f"', {"m": ["a.b", "c"], "f": "x"}, {})
    'r.m =~ /^(a\\\\.b|c)$/ and r.f == "x"'
    >>> template('/^${m:regex}$/', {"m": ALL}, {"m": ".*"})
    '/^.*$/'
    """
    def replace(match: re.Match) -> str:
        name = match[1] or match[3] or match[5]
        fmt = match[2] or match[4]
        if name not in values:
            return match[0]
        return _format(values[name], fmt, all_values.get(name))
    return _VARIABLE.sub(replace, flux)


_FLUX_VARIABLE = re.compile(r"(?m)([a-zA-Z]+)\.([a-zA-Z]+)")


def macros(flux: str, *, start: datetime, stop: datetime, interval: int, bucket: str, org: str) -> str:
    """interpolate() of Grafana's Flux backend: every `<word>.timeRangeStart` etc. is replaced as text.

    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> macros("range(start: v.timeRangeStart, stop: v.timeRangeStop) every: v.windowPeriod $__interval_ms",
    ...        start=t0, stop=t0.replace(hour=1), interval=60_000, bucket="b", org="o")
    'range(start: 2026-01-01T00:00:00Z, stop: 2026-01-01T01:00:00Z) every: 1m0s 60000'
    """
    replacements = {"timeRangeStart": rfc3339nano(start), "timeRangeStop": rfc3339nano(stop),
                    "windowPeriod": go_duration(interval), "bucket": f'"{bucket}"', "defaultBucket": f'"{bucket}"',
                    "organization": f'"{org}"'}
    for match in _FLUX_VARIABLE.finditer(flux):
        if match[2] in replacements:
            flux = flux.replace(match[0], replacements[match[2]])
    flux = flux.replace("$__interval_ms", str(interval))
    return flux.replace("$__interval", _grafana_interval(interval))


def _grafana_interval(ms: int) -> str:
    """gtime.FormatInterval: the largest whole unit.

    >>> _grafana_interval(90_000), _grafana_interval(10_000), _grafana_interval(500)
    ('1m', '10s', '500ms')
    """
    for unit, size in (("y", 31_536_000_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return f"{max(ms, 1)}ms"


class FluxError(AssertionError):
    pass


def run(url: str, org: str, token: str, flux: str) -> list[dict[str, str]]:
    """POST /api/v2/query as Grafana's backend does (annotated CSV); rows of every table, or FluxError
    with InfluxDB's message, also for an error that comes in the body of a 200 answer."""
    body = json.dumps({"query": flux, "type": "flux",
                       "dialect": {"header": True, "annotations": ["datatype", "group", "default"]}}).encode()
    request = urllib.request.Request(f"{url}/api/v2/query?org={org}", data=body, method="POST",
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json",
                                              "Accept": "application/csv"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        raise FluxError(f"HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for record in csv.reader(io.StringIO(text)):
        if not record or record[0].startswith("#"):
            header = None  # a new table's annotations (or the blank line between tables)
            continue
        if header is None:
            header = record
            continue
        row = dict(zip(header, record))
        if "error" in header and "reference" in header:
            raise FluxError(f"error in the result: {row.get('error')}")
        rows.append(row)
    return rows


def fields_named(flux: str) -> set[str]:
    return set(re.findall(r'r\._field == "(\w+)"', flux))


def measurements_named(flux: str) -> set[str]:
    return set(re.findall(r'r\._measurement == "(\w+)"', flux))


def covers(dashboard: Mapping, measurement: str, field: str, kinds: Sequence[str] = ("panel",)) -> bool:
    """A panel shows the field: it names it, or reads the measurement without choosing fields."""
    return any(measurement in measurements_named(q.flux) and (field in fields_named(q.flux) or not fields_named(q.flux))
               for q in queries(dashboard) if q.kind in kinds)
