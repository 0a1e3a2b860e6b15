"""A second local stack for the fault-injection suite, on ports of its own, so that stopping its
Kafka or InfluxDB cannot disturb the rest of the test run. Started by deploy/stack.sh (the same
script users run), stopped when the suite ends; its components are stopped, paused and resumed
through their pid files, as an operator (or a crash) would."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from streams.settings import Settings
from tests.stack_helpers import StackClient, stop_process

REPO = Path(__file__).resolve().parents[2]
PORTS = {"DRIFTLINE_KAFKA_PORT": "29092", "DRIFTLINE_KAFKA_CONTROLLER_PORT": "29093",
         "DRIFTLINE_INFLUX_PORT": "28086", "DRIFTLINE_KAFKA_SASL_SSL_PORT": "29094"}
SASL = {"username": "driftline", "password": "driftline-sasl-password"}  # deploy/stack.sh's defaults

_RESULTS: list[str] = []


class FaultStack(StackClient):
    def __init__(self, stack_dir: Path, script_env: dict[str, str]) -> None:
        self.stack_dir = stack_dir
        self.script_env = script_env
        super().__init__(Settings(_env_file=None, bootstrap_servers=f"127.0.0.1:{PORTS['DRIFTLINE_KAFKA_PORT']}",
                                  influx_url=f"http://127.0.0.1:{PORTS['DRIFTLINE_INFLUX_PORT']}",
                                  influx_token="driftline-dev-token"))

    def script(self, command: str) -> None:
        subprocess.run([str(REPO / "deploy" / "stack.sh"), command], env=self.script_env, check=True,
                       stdout=subprocess.DEVNULL, timeout=300)

    def pid(self, component: str) -> int:
        return int((self.stack_dir / "run" / f"{component}.pid").read_text().strip())

    def stop(self, component: str) -> None:
        """SIGTERM and wait: the server is gone (connections refused) until start()."""
        stop_process(self.pid(component))

    def start(self) -> None:
        self.script("up")  # starts whatever is not running, waits until healthy

    def pause(self, component: str) -> None:
        os.kill(self.pid(component), signal.SIGSTOP)  # alive but answering nothing: the nastier outage

    def resume(self, component: str) -> None:
        os.kill(self.pid(component), signal.SIGCONT)


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory) -> FaultStack:
    stack_dir = tmp_path_factory.mktemp("fault-stack")
    env = {**os.environ, **PORTS, "DRIFTLINE_STACK_DIR": str(stack_dir),
           "DRIFTLINE_ENV_FILE": str(stack_dir / "driftline.env"), "DRIFTLINE_PYTHON": str(REPO / ".venv/bin/python")}
    stack = FaultStack(stack_dir, env)
    stack.script("up")
    try:
        yield stack
    finally:
        for component in ("kafka", "influxd"):
            try:
                stack.resume(component)  # a paused server would not stop
            except (OSError, ValueError):
                pass
        stack.script("down")


@pytest.fixture
def fault_result(figures):
    """Record one scenario's outcome as a row of the table printed at the end of every run."""
    def record(scenario: str, outcome) -> None:
        if not _RESULTS:
            figures("fault injection, read back from InfluxDB and Kafka:")
            figures(f"  {'scenario':<42} {'produced':>9} {'counted':>9} {'windows':>9} {'late':>5} {'dup ids':>7}  notes")
        _RESULTS.append(scenario)
        figures(f"  {scenario:<42} {outcome.produced:>9,} {outcome.counted:>9,} "
                f"{outcome.windows_found:>4}/{outcome.windows_expected:<4} {outcome.late:>5} "
                f"{outcome.duplicate_alerts:>7}  {outcome.notes}")
    return record
