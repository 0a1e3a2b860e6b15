"""The worker on a SASL_SSL listener (PLAIN over TLS, a test CA made by keytool): events in,
windows out; a wrong password fails at start with one clear line that shows no secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.conftest import PORTS, SASL
from tests.faults.traffic import Producer, Traffic, Workers, publish_profiles, read_back, worker_env

pytestmark = pytest.mark.stack


def _secure_env(fault_stack, prefix, tmp_path, password):
    return worker_env(fault_stack, prefix, tmp_path,
                      DRIFTLINE_BOOTSTRAP_SERVERS=f"127.0.0.1:{PORTS['DRIFTLINE_KAFKA_SASL_SSL_PORT']}",
                      DRIFTLINE_KAFKA_SECURITY_PROTOCOL="SASL_SSL", DRIFTLINE_KAFKA_SASL_MECHANISM="PLAIN",
                      DRIFTLINE_KAFKA_SASL_USERNAME=SASL["username"], DRIFTLINE_KAFKA_SASL_PASSWORD=password,
                      DRIFTLINE_KAFKA_SSL_CA_FILE=str(fault_stack.stack_dir / "tls" / "ca.pem"))


def test_worker_over_sasl_ssl(fault_stack, tmp_path, run_id, fault_result):
    traffic = Traffic(prefix=f"sasl-{run_id}", seed=71, models=2, windows=4, per_window=800)
    env = _secure_env(fault_stack, traffic.prefix, tmp_path, SASL["password"])
    token_file = tmp_path / "influx.token"
    token_file.write_text(env.pop("DRIFTLINE_INFLUX_TOKEN") + "\n")  # the token from a file, too
    env["DRIFTLINE_INFLUX_TOKEN_FILE"] = str(token_file)
    workers = Workers(env, tmp_path)
    try:
        worker = workers.start()
        publish_profiles(fault_stack, traffic)  # (test clients use the plaintext listener)
        producer = Producer(fault_stack, traffic, duration_s=10)
        producer.start()
        producer.finish()
        outcome = read_back(fault_stack, traffic)
        outcome.notes = "PLAIN over TLS, CA from keytool; InfluxDB token from a file"
        fault_result("SASL_SSL listener", outcome)
        assert not outcome.problems, outcome.problems[:10]
        assert SASL["password"] not in worker.log()
    finally:
        workers.stop_all()


def test_a_wrong_password_fails_with_one_clear_line(fault_stack, tmp_path, run_id):
    wrong = "not-the-password-4711"
    env = _secure_env(fault_stack, f"sasl-bad-{run_id}", tmp_path, wrong)
    exe = Path(sys.executable).with_name("driftline")
    done = subprocess.run([str(exe), "worker"], env=env, capture_output=True, text=True, timeout=120)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(errors) == 1 and "authentication" in errors[0].lower(), done.stderr[-2000:]
    assert wrong not in done.stdout + done.stderr
