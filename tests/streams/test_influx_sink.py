"""The sink keeps retrying while InfluxDB is unreachable (here: nothing listens on the port)."""

import asyncio
import socket

import pytest

from streams.settings import Settings
from streams.sinks.influx import InfluxSink


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_write_retries_instead_of_failing_while_influx_is_down(caplog):
    sink = InfluxSink(Settings(_env_file=None, influx_url=f"http://127.0.0.1:{_free_port()}"))
    sink.write_sync = lambda windows: (_ for _ in ()).throw(ConnectionRefusedError("refused"))

    async def attempt():
        await asyncio.wait_for(sink.write([], max_backoff_s=0.05), timeout=0.5)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(attempt())
    assert sum("retrying" in r.message for r in caplog.records) >= 2
