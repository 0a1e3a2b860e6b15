"""The fault suite's traffic: a known stream of events, produced while faults happen, and the
invariants read back from outside the worker (Flux queries, a Kafka consumer).

Several models, each keyed by its id, over consecutive 10 s windows with past event times; the
models' messages are merged in time order (as live services publish them), so no event is ever
further out of order than one batch's span (< 1 s, under the 3 s allowed lateness): any
`late_count` is a fault's doing. Messages mix batches of 2-100 events and single events. Poison
messages can be mixed in.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from tests.stack_helpers import WorkerProcess
from tests.streams.stack_data import feature_rows, publish_profile, window_fields

WINDOW_MS = 10_000
WORKER_SETTINGS = {"DRIFTLINE_WINDOW_SECONDS": "10", "DRIFTLINE_ALLOWED_LATENESS_SECONDS": "3",
                   "DRIFTLINE_IDLE_GRACE_SECONDS": "2"}


@dataclass
class Traffic:
    prefix: str
    seed: int
    models: int = 4
    windows: int = 8
    per_window: int = 1200
    shifted: tuple[int, int] = (0, 3)  # (model index, window) whose f_num_a is shifted: one alert
    base_ms: int = 0
    messages: list[tuple[str, bytes]] = field(default_factory=list)  # (key, value), in produce order
    expected: dict[tuple[str, int], int] = field(default_factory=dict)  # (model, window start) -> events
    poison: int = 0  # messages (or batch members) that must reach the DLQ
    spread: bool = False  # a random key per message (a model's events over every partition), not the model id

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.base_ms = (int(time.time() * 1000) // WINDOW_MS - 720) * WINDOW_MS  # two hours ago
        timed: list[tuple[int, int, tuple[str, bytes]]] = []  # (first event time, model, message)
        for m in range(self.models):
            model = self.model(m)
            events = []
            for w in range(self.windows):
                start = self.base_ms + w * WINDOW_MS
                times = np.sort(rng.integers(start, start + WINDOW_MS, self.per_window))
                rows = feature_rows(rng, self.per_window, 1.5 if (m, w) == self.shifted else 0.0)
                events += [{"event_id": f"{model}-{w}-{i}", "model_id": model, "model_version": "v1",
                            "timestamp": int(times[i]), "features": rows[i], "prediction": float(rng.random()),
                            "latency_ms": float(rng.gamma(2.0, 5.0))} for i in range(self.per_window)]
                self.expected[(model, start)] = self.per_window
            i = 0
            while i < len(events):
                k = 1 if rng.random() < 0.3 else int(rng.integers(2, 101))
                chunk = events[i:i + k]
                value = orjson.dumps(chunk[0]) if len(chunk) == 1 else orjson.dumps({"events": chunk})
                key = f"{model}-{rng.integers(1 << 62)}" if self.spread else model
                timed.append((chunk[0]["timestamp"], m, (key, value)))
                i += k
        self.messages = [message for _, _, message in sorted(timed, key=lambda t: t[:2])]

    def model(self, m: int) -> str:
        return f"{self.prefix}-m{m}"

    @property
    def total(self) -> int:
        return sum(self.expected.values())

    def mix_in(self, bad: list[tuple[bytes | None, int, int]], seed: int) -> None:
        """Insert poison messages at seeded positions: (value, rejects it causes, good events it holds)."""
        rng = np.random.default_rng(seed)
        for value, rejects, good in bad:
            assert good == 0, "poison with good events is built by the caller into the expected counts"
            self.messages.insert(int(rng.integers(0, len(self.messages))), (self.model(0), value))
            self.poison += rejects


class Producer(threading.Thread):
    """Produces the traffic's messages evenly over `duration_s`, in the background."""

    def __init__(self, stack, traffic: Traffic, duration_s: float) -> None:
        super().__init__(daemon=True)
        self.stack, self.traffic, self.duration_s = stack, traffic, duration_s
        self.started_at = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            producer = self.stack.producer(**{"message.max.bytes": 4_000_000, "compression.type": "lz4",
                                              "message.timeout.ms": 600_000, "enable.idempotence": True,
                                              # back within a second of the broker's return
                                              "reconnect.backoff.max.ms": 1000})
            topic = f"{self.traffic.prefix}.predictions"
            self.started_at = time.time()
            messages = self.traffic.messages
            for i, (key, value) in enumerate(messages):
                producer.produce(topic, key=key.encode(), value=value)
                producer.poll(0)
                lag = self.started_at + self.duration_s * (i + 1) / len(messages) - time.time()
                if lag > 0:
                    time.sleep(lag)
            assert producer.flush(600) == 0, "the producer could not deliver everything"
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def elapsed(self) -> float:
        return time.time() - self.started_at if self.started_at else 0.0

    def finish(self, timeout_s: float = 700) -> None:
        self.join(timeout_s)
        assert not self.is_alive(), "the producer did not finish"
        if self.error is not None:
            raise self.error


def worker_env(stack, prefix: str, tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(stack.env())
    env.update(WORKER_SETTINGS)
    env.update({"DRIFTLINE_TOPIC_PREFIX": prefix, "DRIFTLINE_APP_ID": f"{prefix}-worker",
                "DRIFTLINE_WORKER_DATA_DIR": str(tmp_path / "worker")})
    env.update(overrides)
    return env


class Workers:
    """The scenario's worker processes (each start gets a log of its own); all stopped at the end."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env, self.tmp_path = env, tmp_path
        self.started: list[WorkerProcess] = []

    def start(self, name: str = "w") -> WorkerProcess:
        proc = WorkerProcess(self.env, self.tmp_path / f"{name}-{len(self.started)}.log")
        self.started.append(proc)
        proc.start(ready_timeout_s=90)
        return proc

    def logs(self) -> str:
        return "\n".join(p.log() for p in self.started)

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop()


@dataclass
class Outcome:
    produced: int
    counted: int
    windows_expected: int
    windows_found: int
    late: int
    duplicate_alerts: int
    problems: list[str]
    notes: str = ""
    first_write_s: float | None = None


def publish_profiles(stack, traffic: Traffic) -> None:
    for m in range(traffic.models):
        publish_profile(stack, f"{traffic.prefix}.profiles", traffic.model(m))


def read_back(stack, traffic: Traffic, timeout_s: float = 120) -> Outcome:
    """Wait until InfluxDB holds as many events as were produced (or time runs out), then compare
    every window of every model with what was produced for it."""
    lo, hi = traffic.base_ms // 1000 - 60, traffic.base_ms // 1000 + traffic.windows * WINDOW_MS // 1000 + 3600

    def found() -> dict[tuple[str, int], dict]:
        out = {}
        for m in range(traffic.models):
            model = traffic.model(m)
            for (start,), fields in window_fields(stack, "window_stats", model, lo, hi).items():
                out[(model, start)] = fields
        return out

    deadline = time.time() + timeout_s
    while True:
        got = found()
        counted = sum(f.get("count", 0) + f.get("late_count", 0) for f in got.values())
        if counted >= traffic.total and set(got) >= set(traffic.expected) or time.time() > deadline:
            break
        time.sleep(1.0)
    time.sleep(3.0)  # anything extra (a window written twice differently, a late rewrite) shows now
    got = found()
    problems = []
    for key, want in sorted(traffic.expected.items()):
        have = got.get(key)
        if have is None:
            problems.append(f"window {key} missing")
        elif have.get("count") != want or have.get("late_count", 0) != 0:
            problems.append(f"window {key}: count {have.get('count')} late {have.get('late_count')} (want {want}, 0)")
    problems += [f"window {key} not produced" for key in sorted(set(got) - set(traffic.expected))]
    alerts = stack.read_topic(f"{traffic.prefix}.alerts", timeout_s=8, settle_s=0)
    ids = [orjson.loads(a.value())["alert_id"] for a in alerts]
    if not ids:
        problems.append("no alert for the shifted window")
    return Outcome(produced=traffic.total, counted=int(sum(f.get("count", 0) for f in got.values())),
                   windows_expected=len(traffic.expected), windows_found=len(set(got) & set(traffic.expected)),
                   late=int(sum(f.get("late_count", 0) for f in got.values())),
                   duplicate_alerts=len(ids) - len(set(ids)), problems=problems)


def dead_letters(stack, traffic: Traffic, timeout_s: float = 30) -> list:
    return stack.read_topic(f"{traffic.prefix}.predictions.dlq", expect=traffic.poison, timeout_s=timeout_s,
                            settle_s=3)
