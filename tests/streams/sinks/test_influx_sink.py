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
    attempts = []

    def refuse(windows):
        attempts.append(1)
        raise ConnectionRefusedError("refused")

    sink.write_sync = refuse

    async def attempt():
        await asyncio.wait_for(sink.write([], max_backoff_s=0.05), timeout=0.5)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(attempt())
    assert len(attempts) >= 5  # it keeps trying ...
    logged = [r.message for r in caplog.records if "failing" in r.message]
    assert len(logged) == 1 and "refused" in logged[0]  # ... and says so once per interval, not per try


def test_a_write_that_succeeds_after_failures_says_how_many_failed(caplog):
    sink = InfluxSink(Settings(_env_file=None, influx_url=f"http://127.0.0.1:{_free_port()}"))
    attempts = []

    def flaky(windows):
        attempts.append(1)
        if len(attempts) < 4:
            raise ConnectionRefusedError("refused")

    sink.write_sync = flaky
    asyncio.run(sink.write([], max_backoff_s=0.01))
    assert any("after 3 failed attempt(s)" in r.message for r in caplog.records)
