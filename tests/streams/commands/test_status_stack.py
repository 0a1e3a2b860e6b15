"""`driftline status` on the real stack, through a pseudo-terminal as a user sees it: after a
worker has written a model's windows, the table shows the model, its last window's count, the
drifting feature and its open incident; `--json` says the same; `--watch` redraws until Ctrl-C."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import orjson
import pytest

from tests.streams.commands.seeded import EVENTS_PER_WINDOW, STACK_WORKER, WINDOW_MS, publish_stream
from tests.streams.stack_data import wait_until, window_fields

pytestmark = pytest.mark.stack

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))
SHIFTS = [0.0, 0.0, 1.0, 1.0]  # PSI major from window 2 on: the last window drifts, its incident is open
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class Terminal:
    """A command on a pseudo-terminal of 200 columns: what it draws, as text."""

    def __init__(self, args: list[str], env: dict, cwd: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                                     start_new_session=True)
        os.close(slave)
        self.screen = b""

    def read(self, seconds: float, until: str | None = None) -> str:
        deadline = time.time() + seconds
        while time.time() < deadline and (until is None or until not in self.text):
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the command has ended and closed its side
                    break
                if not chunk:
                    break
                self.screen += chunk
        return self.text

    @property
    def text(self) -> str:
        return ANSI.sub("", self.screen.decode(errors="replace"))

    def close(self) -> int:
        code = self.proc.wait(timeout=30)
        os.close(self.master)
        return code


def test_the_table_shows_the_model_its_last_count_and_the_drifting_feature(stack, start_worker, worker_env, tmp_path):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"status-{prefix}"
    start_worker(**STACK_WORKER)
    base = publish_stream(stack, prefix, model, SHIFTS, seed=4)
    last = base + (len(SHIFTS) - 1) * WINDOW_MS
    assert wait_until(lambda: (last,) in window_fields(stack, "window_stats", model, base // 1000 - 60,
                                                       base // 1000 + 3600), 90), "the worker wrote no last window"
    assert wait_until(lambda: stack.read_topic(f"{prefix}.alerts", expect=1, timeout_s=10, settle_s=0), 60)

    env = {**worker_env, **STACK_WORKER}
    term = Terminal([DRIFTLINE, "status", "--model", model], env, tmp_path)
    text = term.read(60)
    assert term.close() == 0, text
    (line,) = [row for row in text.splitlines() if model in row]
    assert str(EVENTS_PER_WINDOW) in line.split() and "f_num_a (major)" in line, text
    assert "f_num_a/drift major since" in line, text
    assert f"consumer lag of group {worker_env['DRIFTLINE_APP_ID']} on {prefix}.predictions" in text, text
    assert "\x1b[" in term.screen.decode(errors="replace")  # drawn for a terminal (rich saw one)

    result = subprocess.run([DRIFTLINE, "status", "--model", model, "--json"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    out = orjson.loads(result.stdout)
    (entry,) = out["models"]
    assert (entry["model_id"], entry["model_version"]) == (model, "v1")
    assert (entry["last_window_start_ms"], entry["count"], entry["late_count"]) == (last, EVENTS_PER_WINDOW, 0)
    assert entry["events_per_second"] == pytest.approx(len(SHIFTS) * EVENTS_PER_WINDOW / (len(SHIFTS) * 10))
    assert entry["latency_p95_ms"] == pytest.approx(3.0)
    assert entry["drifting"] == [{"feature": "f_num_a", "severity": "major"}]
    assert [i["dedup_key"] for i in entry["open_incidents"]] == [f"{model}/v1/f_num_a/drift"]
    lag = out["consumer_lag"]
    assert (lag["group"], lag["topic"], sorted(lag["partitions"])) == (worker_env["DRIFTLINE_APP_ID"],
                                                                      f"{prefix}.predictions", ["0", "1", "2", "3"])

    watch = Terminal([DRIFTLINE, "status", "--model", model, "--watch", "--interval", "1"], env, tmp_path)
    first = watch.read(60, until="consumer lag")
    drawn = watch.read(4)
    os.killpg(watch.proc.pid, signal.SIGINT)  # Ctrl-C
    watch.read(5)
    assert watch.close() == 0, watch.text
    assert model in first and drawn.count("consumer lag") >= 2, drawn  # redrawn at each interval


def test_kafka_away_is_one_line_and_exit_two(stack, tmp_path):
    env = {**os.environ, **stack.env(), "DRIFTLINE_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = subprocess.run([DRIFTLINE, "status"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: Kafka at 127.0.0.1:1") and len(result.stderr.strip().splitlines()) == 1
