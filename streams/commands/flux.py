r"""Plain Flux queries for the commands that read InfluxDB (status, report): one client, rows as
dicts, and an InfluxDB failure turned into one line the user can act on.

>>> print(flux_text('say "hi"'))
"say \"hi\""
"""

from __future__ import annotations

from streams.errors import DriftlineError
from streams.settings import Settings

INFLUX_TIMEOUT_MS = 10_000


def flux_text(value: str) -> str:
    """A Flux string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FluxReader:
    def __init__(self, settings: Settings, timeout_ms: int = INFLUX_TIMEOUT_MS) -> None:
        from influxdb_client import InfluxDBClient

        self.settings = settings
        self.client = InfluxDBClient(url=settings.influx_url, token=settings.influx_token.get_secret_value(),
                                     org=settings.influx_org, timeout=timeout_ms)

    @property
    def bucket(self) -> str:
        return flux_text(self.settings.influx_bucket)

    def rows(self, query: str) -> list[dict]:
        """Every record's `values` (tags, `_time`, `_field`, `_value`, or pivoted columns)."""
        try:
            tables = self.client.query_api().query(query, org=self.settings.influx_org)
        except Exception as exc:  # the client raises urllib3's, its own ApiException and OSError alike
            raise DriftlineError(influx_problem(self.settings.influx_url, exc)) from exc
        return [record.values for table in tables for record in table.records]

    def close(self) -> None:
        self.client.close()


def influx_problem(url: str, exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if status == 401:
        return f"InfluxDB at {url} rejected the token (401): check DRIFTLINE_INFLUX_TOKEN"
    if status is not None:
        import orjson

        try:
            message = orjson.loads(exc.body)["message"]
        except Exception:
            message = getattr(exc, "reason", "") or ""
        return f"InfluxDB at {url} answered {status}: {message}"
    text = str(exc).strip().splitlines()
    return f"cannot reach InfluxDB at {url}: {type(exc).__name__}: {text[0][:200] if text else ''}"
