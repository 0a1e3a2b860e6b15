"""Shared fixtures. Tests marked `stack` use the real Kafka and InfluxDB that `make test` starts
(deploy/stack.sh); nothing here mocks either."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.stack_helpers import StackClient, WorkerProcess


_FIGURES: list[str] = []


@pytest.fixture
def figures():
    """Record a figure a test proves, printed at the end of every run (not only with -s)."""
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter) -> None:
    if _FIGURES:
        terminalreporter.section("driftline figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def stack() -> StackClient:
    client = StackClient.from_environment()
    problem = client.problem()
    if problem:
        pytest.fail(f"the local stack is not reachable ({problem}); run `make stack-up` or `make test`")
    return client


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def worker_env(stack: StackClient, run_id: str, tmp_path) -> dict[str, str]:
    """Settings for a worker isolated from other tests: own topics, consumer group and data dir."""
    env = dict(os.environ)
    env.update(stack.env())
    env.update({
        "DRIFTLINE_TOPIC_PREFIX": f"test-{run_id}",
        "DRIFTLINE_APP_ID": f"driftline-test-{run_id}",
        "DRIFTLINE_WORKER_DATA_DIR": str(tmp_path / "worker"),
    })
    return env


@pytest.fixture
def start_worker(worker_env, tmp_path):
    started: list[WorkerProcess] = []

    def start(**overrides: str) -> WorkerProcess:
        env = {**worker_env, **overrides}
        proc = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log")
        started.append(proc)
        proc.start()
        return proc

    yield start
    for proc in started:
        proc.stop()
