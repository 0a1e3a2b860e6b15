"""Clients of the real stack for tests: Kafka producers/consumers, Flux queries, a worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Consumer, Producer
from influxdb_client import InfluxDBClient

from streams.settings import Settings


class StackClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.influx = InfluxDBClient(url=settings.influx_url, token=settings.influx_token.get_secret_value(),
                                     org=settings.influx_org, timeout=30_000)

    @classmethod
    def from_environment(cls) -> "StackClient":
        return cls(Settings())

    def env(self) -> dict[str, str]:
        s = self.settings
        return {"DRIFTLINE_BOOTSTRAP_SERVERS": s.bootstrap_servers, "DRIFTLINE_INFLUX_URL": s.influx_url,
                "DRIFTLINE_INFLUX_TOKEN": s.influx_token.get_secret_value(), "DRIFTLINE_INFLUX_ORG": s.influx_org,
                "DRIFTLINE_INFLUX_BUCKET": s.influx_bucket}

    def problem(self) -> str | None:
        try:
            if not self.influx.ping():
                return f"InfluxDB at {self.settings.influx_url} does not answer"
        except Exception as exc:
            return f"InfluxDB: {exc}"
        try:
            from confluent_kafka.admin import AdminClient

            AdminClient({"bootstrap.servers": self.settings.bootstrap_servers}).list_topics(timeout=10)
        except Exception as exc:
            return f"Kafka: {exc}"
        return None

    def producer(self, **config) -> Producer:
        return Producer({"bootstrap.servers": self.settings.bootstrap_servers, "linger.ms": 5, **config})

    def flux(self, query: str) -> list[dict]:
        tables = self.influx.query_api().query(query, org=self.settings.influx_org)
        return [record.values for table in tables for record in table.records]

    def read_topic(self, topic: str, *, expect: int | None = None, timeout_s: float = 30.0,
                   settle_s: float = 2.0) -> list:
        """All messages of a topic from the beginning: waits for `expect` of them, then `settle_s` more
        to catch extras (duplicates) that must not be there."""
        consumer = Consumer({"bootstrap.servers": self.settings.bootstrap_servers,
                             "group.id": f"test-reader-{uuid.uuid4()}", "auto.offset.reset": "earliest",
                             "enable.auto.commit": False})
        consumer.subscribe([topic])
        messages = []
        deadline = time.time() + timeout_s
        settle_until = None
        try:
            while time.time() < deadline:
                msg = consumer.poll(0.2)
                if msg is not None and msg.error() is None:
                    messages.append(msg)
                if expect is not None and len(messages) >= expect and settle_until is None:
                    settle_until = time.time() + settle_s
                if settle_until is not None and time.time() >= settle_until:
                    break
        finally:
            consumer.close()
        return messages


class WorkerProcess:
    """`driftline worker` as a real OS process, as a user runs it."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, ready_timeout_s: float = 60.0) -> None:
        self._log = self.log_path.open("ab")
        exe = Path(sys.executable).with_name("driftline")
        self.proc = subprocess.Popen([str(exe), "worker"], env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + ready_timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            if "partitions assigned" in self.log().lower() or "Ready" in self.log():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {ready_timeout_s} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()


def dumps(obj) -> bytes:
    return orjson.dumps(obj)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(pid: int, timeout_s: float = 30) -> None:
    """SIGTERM, as an operator would, and wait until it is gone; SIGKILL if it outlives the wait."""
    import os
    import signal
    import time
    from pathlib import Path

    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout_s
    while time.time() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
