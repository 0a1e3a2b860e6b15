"""A stack of the SDK tests' own (deploy/stack.sh, the script users run), on ports nobody else
uses here, so that stopping its Kafka cannot disturb the rest of a test run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.stack_helpers import stop_process

REPO = Path(__file__).resolve().parents[2]
PORTS = {"DRIFTLINE_KAFKA_PORT": "39092", "DRIFTLINE_KAFKA_CONTROLLER_PORT": "39093",
         "DRIFTLINE_INFLUX_PORT": "38086", "DRIFTLINE_KAFKA_SASL_SSL_PORT": "39094"}


class SdkStack:
    bootstrap = f"127.0.0.1:{PORTS['DRIFTLINE_KAFKA_PORT']}"

    def __init__(self, stack_dir: Path) -> None:
        self.stack_dir = stack_dir
        self.env = {**os.environ, **PORTS, "DRIFTLINE_STACK_DIR": str(stack_dir),
                    "DRIFTLINE_ENV_FILE": str(stack_dir / "driftline.env"),
                    "DRIFTLINE_PYTHON": str(REPO / ".venv/bin/python")}

    def script(self, command: str) -> None:
        subprocess.run([str(REPO / "deploy" / "stack.sh"), command], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)

    def stop_kafka(self) -> None:
        """SIGTERM through the pid file, as an operator would; returns once the broker is gone."""
        stop_process(int((self.stack_dir / "run" / "kafka.pid").read_text().strip()))

    def start_kafka(self) -> None:
        self.script("up")  # starts what is not running, returns once it is healthy


@pytest.fixture(scope="session")
def sdk_stack(tmp_path_factory) -> SdkStack:
    stack = SdkStack(tmp_path_factory.mktemp("sdk-stack"))
    stack.script("up")
    try:
        yield stack
    finally:
        stack.script("down")
