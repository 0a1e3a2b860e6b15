"""The three consumers measured on a filled topic: bare aiokafka, a bare faust agent, the worker."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import socket
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from influxdb_client import InfluxDBClient
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import procs
from bench.events import Timeline
from bench.fill import Filled
from streams.kafka.topics import FETCH_BYTES_PER_PARTITION
from streams.worker.baseline_agent import events_in

REPO = Path(__file__).resolve().parent.parent


class BenchError(RuntimeError):
    pass


@dataclass
class Measured:
    events: int
    seconds: float
    note: str = ""
    merge_s: float = 0.0  # what the two stages added (partials built, read, merged), summed over windows
    steady: float | None = None  # events/s applied between 10 % and 90 % of the events (see EventsCounter)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")


class EventsCounter:
    """The workers' `driftline_events_total`, sampled from their /metrics: the rate between the
    moments 10 % and 90 % of the events were applied is what a running worker sustains, without
    its start (assignment, first fetches) or the last windows' wait for their closing event."""

    def __init__(self, ports: list[int]) -> None:
        self.urls = [f"http://127.0.0.1:{port}/metrics" for port in ports]
        self.samples: list[tuple[float, float]] = []

    def sample(self) -> None:
        total = 0.0
        for url in self.urls:
            try:
                with urllib.request.urlopen(url, timeout=0.5) as answer:
                    text = answer.read().decode()
            except OSError:
                return  # not serving yet (or gone): no sample
            total += sum(float(line.split()[-1]) for line in text.splitlines()
                         if line.startswith("driftline_events_total"))
        self.samples.append((time.time(), total))

    def steady(self, events: int) -> float | None:
        def when(share: float) -> float | None:
            return next((t for t, n in self.samples if n >= share * events), None)
        t10, t90 = when(0.1), when(0.9)
        if t10 is None or t90 is None or t90 <= t10:
            return None
        return 0.8 * events / (t90 - t10)


def _progress(label: str, console) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("events"),
                    TimeElapsedColumn(), console=console, transient=True)


# ---------------------------------------------------------------- (a) bare aiokafka

async def _aiokafka(bootstrap: str, filled: Filled, group: str, timeout_s: float, progress, task) -> Measured:
    consumer = AIOKafkaConsumer(filled.topic, bootstrap_servers=bootstrap, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=FETCH_BYTES_PER_PARTITION)
    await consumer.start()
    try:
        loads = orjson.loads
        messages = events = 0
        first = None
        deadline = time.monotonic() + timeout_s
        while messages < filled.messages:
            if time.monotonic() > deadline:
                raise BenchError(f"aiokafka read {messages} of {filled.messages} messages in {timeout_s:.0f} s")
            fetched = await consumer.getmany(timeout_ms=1000, max_records=20000)
            for records in fetched.values():
                if first is None and records:
                    first = time.perf_counter()
                for record in records:
                    events += events_in(loads(record.value))
                messages += len(records)
            progress.update(task, completed=events)
        last = time.perf_counter()
    finally:
        await consumer.stop()
    return Measured(events, last - first)


def bare_aiokafka(bootstrap: str, filled: Filled, group: str, timeout_s: float, console) -> Measured:
    with _progress("(a) aiokafka", console) as progress:
        task = progress.add_task("a", total=filled.events + filled.sentinels)
        return asyncio.run(_aiokafka(bootstrap, filled, group, timeout_s, progress, task))


# ---------------------------------------------------------------- (b) bare faust agent

def bare_faust(bootstrap: str, filled: Filled, app_id: str, workdir: Path, timeout_s: float, console) -> Measured:
    result = workdir / f"{app_id}.jsonl"
    log = workdir / f"{app_id}.log"
    datadir = workdir / f"{app_id}.data"
    argv = [sys.executable, "-m", "streams.worker.baseline_agent", bootstrap, filled.topic, app_id, str(datadir),
            str(filled.messages), str(result)]
    proc = procs.spawn(argv, env=dict(os.environ, PYTHONUNBUFFERED="1"), log_path=log, cwd=REPO)
    try:
        with _progress("(b) faust agent", console) as progress:
            task = progress.add_task("b", total=filled.events + filled.sentinels)
            deadline = time.monotonic() + timeout_s
            first = done = None
            while done is None:
                if proc.poll() is not None:
                    raise BenchError(f"faust agent exited with {proc.returncode}; log {log}:\n{procs.tail(log)}")
                if time.monotonic() > deadline:
                    raise BenchError(f"faust agent not done after {timeout_s:.0f} s; log {log}:\n{procs.tail(log)}")
                time.sleep(0.2)
                for line in result.read_bytes().splitlines() if result.exists() else []:
                    record = orjson.loads(line)
                    first = record.get("first", first)
                    if "progress" in record:
                        progress.update(task, completed=record["progress"])
                    if "done" in record:
                        done = record
    finally:
        procs.stop(proc)
    return Measured(done["events"], done["done"] - first)


# ---------------------------------------------------------------- (c) the worker

class InfluxCounts:
    """Sum of window_stats count / late_count of the run's models over the real windows."""

    def __init__(self, settings, models: list[str], timeline: Timeline) -> None:
        self.client = InfluxDBClient(url=settings.influx_url, token=settings.influx_token.get_secret_value(),
                                     org=settings.influx_org, timeout=30_000)
        self.org = settings.influx_org
        self.bucket = settings.influx_bucket
        self.models = models
        self.start, self.stop = timeline.start_ms, timeline.end_ms  # excludes the sentinels' windows
        models_filter = " or ".join(f'r.model_id == "{m}"' for m in models)
        self.query = f'''
from(bucket: "{self.bucket}")
  |> range(start: time(v: {self.start * 1_000_000}), stop: time(v: {self.stop * 1_000_000}))
  |> filter(fn: (r) => r._measurement == "window_stats" and (r._field == "count" or r._field == "late_count"))
  |> filter(fn: (r) => {models_filter})
  |> group(columns: ["_field"])
  |> sum()'''

    def counts(self) -> dict[str, int]:
        tables = self.client.query_api().query(self.query, org=self.org)
        out = {"count": 0, "late_count": 0}
        for table in tables:
            for record in table.records:
                out[record.get_field()] = int(record.get_value())
        return out

    def delete(self) -> None:
        """Remove the run's points (all model ids are unique to the run)."""
        api = self.client.delete_api()
        start = dt.datetime.fromtimestamp(self.start / 1000, dt.timezone.utc)
        for m in self.models:  # the sentinels' windows too: up to 2 h after the data
            api.delete(start, start + dt.timedelta(hours=2), f'model_id="{m}"', bucket=self.bucket, org=self.org)

    def close(self) -> None:
        self.client.close()


# A log line's time, as faust ("[2026-11-25 19:31:58,577] [22035] [INFO] ...") or the worker's own
# logging ("2026-11-25 19:31:58,577 INFO ...") writes it (local time).
STAMP = r"^\[?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})"
READY = re.compile(r"^(?:\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\])?.*\[\^Worker\]: Ready", re.M)


def _log_time(stamp: str) -> float:
    return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _settle(started, logs, timeout_s: float, quiet_s: float = 3.0) -> None:
    """Until every worker has logged "Worker ready" and no rebalance began for `quiet_s`."""
    deadline = time.monotonic() + timeout_s
    last_change, seen = time.monotonic(), None
    while time.monotonic() < deadline:
        for p, path in zip(started, logs):
            if p.poll() is not None:
                raise BenchError(f"worker exited with {p.returncode}; log {path}:\n{procs.tail(path)}")
        texts = [path.read_text(errors="replace") if path.exists() else "" for path in logs]
        state = tuple(t.count("rebalance") for t in texts)
        if state != seen:
            seen, last_change = state, time.monotonic()
        if all("Worker ready" in t for t in texts) and time.monotonic() - last_change >= quiet_s:
            return
        time.sleep(0.2)
    raise BenchError("the workers did not settle into one group")


def _ready_time(text: str, now: float) -> float | None:
    match = READY.search(text)
    if match is None:
        return None
    if match.group(1):  # the log's own time (local), more precise than when we saw the line
        return _log_time(match.group(1))
    return now


def worker(filled: Filled, counts: InfluxCounts, timeline: Timeline, app_id: str, workdir: Path, timeout_s: float,
           console, processes: int = 1, label: str = "(c) worker", fill=None,
           extra_env: dict[str, str] | None = None) -> Measured:
    """`driftline worker` (`processes` of them, one group) from the first message until InfluxDB
    holds every real event's count. `fill`: called once the workers have settled into their group
    (the topic is then empty until it runs)."""
    logs = [workdir / f"{app_id}-{i}.log" for i in range(processes)]
    exe = str(Path(sys.executable).with_name("driftline"))
    started = []
    ports = [_free_port() for _ in logs]
    counter = EventsCounter(ports)
    for i, path in enumerate(logs):
        env = dict(os.environ, DRIFTLINE_TOPIC_PREFIX=filled.prefix, DRIFTLINE_APP_ID=app_id,
                   DRIFTLINE_WORKER_DATA_DIR=str(workdir / f"{app_id}-{i}.data"), PYTHONUNBUFFERED="1",
                   DRIFTLINE_METRICS_ADDRESS=f"127.0.0.1:{ports[i]}", **(extra_env or {}))
        started.append(procs.spawn([exe, "worker"], env=env, log_path=path, cwd=REPO))
    proc, log = started[0], logs[0]
    fill_began = None
    if fill is not None:
        _settle(started, logs, timeout_s)
        fill_began = time.time()  # the partitions were started quietly: no "first message" lines
        fill()
    ready = None
    seen = 0  # bytes of the log already scanned
    c = {"count": 0, "late_count": 0}
    try:
        with _progress(f"{label} → InfluxDB", console) as progress:
            task = progress.add_task("c", total=filled.events)
            deadline = time.monotonic() + timeout_s
            next_poll = next_sample = 0.0
            while True:
                now = time.time()
                if time.monotonic() >= next_sample:
                    next_sample = time.monotonic() + 0.1
                    counter.sample()
                for p, path in zip(started, logs):
                    if p.poll() is not None:
                        raise BenchError(f"worker exited with {p.returncode}; log {path}:\n{procs.tail(path)}")
                if time.monotonic() > deadline:
                    raise BenchError(f"worker not done after {timeout_s:.0f} s (InfluxDB: {c}); "
                                     f"log {log}:\n{procs.tail(log)}")
                if ready is None:
                    new = log.read_bytes()[seen:]
                    new = new[:new.rfind(b"\n") + 1]  # whole lines only
                    seen += len(new)
                    ready = _ready_time(new.decode(errors="replace"), now)
                if ready is not None and time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + 0.5
                    asked = time.time()
                    c = counts.counts()
                    progress.update(task, completed=c["count"])
                    if c["count"] >= filled.events:
                        done = asked  # the query saw the data: written by then (at most 0.5 s earlier)
                        break
                    if c["late_count"]:  # a late event never enters `count`: the sum cannot reach N
                        raise BenchError(f"the worker counted events as late, so InfluxDB's count cannot reach "
                                         f"{filled.events} (InfluxDB: {c}); log {log}:\n{procs.tail(log)}")
                time.sleep(0.05)
    finally:
        for p in started:
            procs.stop(p, timeout_s=20)
    note = "" if c == {"count": filled.events, "late_count": 0} else f"InfluxDB shows {c}"
    # Timed like (a) and (b), from the first message to the last one's result: from the worker's
    # first-message line to its last "window closed" line of the run's windows (logged once the
    # window is in InfluxDB, which the query above confirmed). Without those lines (another log
    # format), from "Ready" to the query that saw all the data.
    text = "\n".join(path.read_text(errors="replace") for path in logs)
    first, last = _processing_span(text, filled, timeline)
    if fill_began is not None:
        first = fill_began
    merge_ms = sum(float(m.group(1)) for m in MERGE_COST.finditer(text))
    steady = counter.steady(filled.events)
    if first is None or last is None:
        return Measured(filled.events, done - ready, note, merge_ms / 1000, steady)
    return Measured(filled.events, last - first, note, merge_ms / 1000, steady)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FIRST = re.compile(STAMP + r".*partition \d+: first message at offset", re.M)
CLOSED = re.compile(STAMP + r".*window closed model=(\S+) version=\S+ start=(\S+)", re.M)
MERGE_COST = re.compile(r"window closed .* merge ([0-9.]+) ms\)", re.M)


def _processing_span(text: str, filled: Filled, timeline: Timeline) -> tuple[float | None, float | None]:
    firsts = [_log_time(m.group(1)) for m in FIRST.finditer(text)]
    starts = {time.strftime("%H:%M:%S", time.gmtime(t / 1000))
              for t in range(timeline.start_ms, timeline.end_ms, 60_000)}
    closes = [_log_time(m.group(1)) for m in CLOSED.finditer(text)
              if m.group(2) in filled.models and m.group(3) in starts]
    expected = len(starts) * len(filled.models)
    if len(closes) < expected:
        return None, None
    return min(firsts, default=None), max(closes)
