"""`driftline notify` on the real stack: alert events on the real alerts topic go to a real
Prometheus Alertmanager (read back over its API, and its own webhook notification of the resolve),
to a webhook receiver and to an --exec script, each of whose first attempt fails and is retried.
Every event arrives once; a restarted notifier resumes after what it committed."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from schemas import DriftAlert
from tests.stack_helpers import free_port
from tests.streams.stack_data import create_topics, wait_until

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
W = 10_000


class Receiver:
    """A local HTTP server: /hook fails its first request (503), /am takes Alertmanager's notifications."""

    def __init__(self) -> None:
        self.hook: list[dict] = []
        self.hook_attempts = 0
        self.notifications: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                code = 200
                if self.path == "/hook":
                    receiver.hook_attempts += 1
                    if receiver.hook_attempts == 1:
                        code = 503
                    else:
                        receiver.hook.append(body)
                else:
                    receiver.notifications.append(body)
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.httpd.shutdown()


@pytest.fixture
def alertmanager(tmp_path, receiver):
    binary = os.environ.get("DRIFTLINE_ALERTMANAGER_BIN") or subprocess.run(
        [str(ROOT / "deploy/build-alertmanager.sh")], check=True, capture_output=True, text=True).stdout.strip()
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""route:
  receiver: test
  group_by: [alertname, model, feature]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: {receiver.url}/am
        send_resolved: true
""")
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _get(f"{url}/-/ready") is not None, 30)
    yield url
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = response.read()
            return json.loads(body) if body.startswith((b"[", b"{")) else body
    except OSError:
        return None


def _active(am_url: str, model: str) -> list[dict]:
    return [a for a in _get(f"{am_url}/api/v2/alerts") or [] if a["labels"].get("model") == model]


def _events(model: str, base: int) -> dict[str, list[DriftAlert]]:
    def event(feature, status, reason, severity, window, statistic="ks"):
        return DriftAlert.for_incident(
            alert_id=f"{model}-{feature}-{reason}-{window}", model_id=model, model_version="1",
            window_start=base + window * W, window_end=base + (window + 1) * W, feature=feature,
            statistic=statistic, value=0.3 if status == "firing" else 0.01, threshold=0.05, severity=severity,
            status=status, reason=reason, dedup_key=f"{model}/1/{feature}/drift", incident_start=base + W,
            windows_in_incident=window)
    return {
        "open": [event("amount", "firing", "opened", "minor", 1), event("age", "firing", "opened", "minor", 1),
                 event("age", "firing", "escalated", "major", 2, "psi")],
        "close": [event("amount", "resolved", "resolved", "minor", 6), event("age", "resolved", "resolved", "minor", 6)],
        "later": [event("amount", "firing", "opened", "minor", 9)],
    }


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def _notify(env: dict, log_path: Path, *args: str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("driftline")
    return subprocess.Popen([str(exe), "notify", *args], env=env, stdout=log_path.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_incidents_reach_alertmanager_a_webhook_and_a_command_once_each(stack, worker_env, tmp_path, receiver,
                                                                        alertmanager, figures, monkeypatch):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"notify-{prefix}"
    create_topics(worker_env, monkeypatch)
    script = tmp_path / "hook.sh"
    ran = tmp_path / "ran.jsonl"
    # Fails its first run, then appends the event it got on stdin.
    script.write_text(f"#!/bin/sh\nif [ ! -e {tmp_path}/failed ]; then touch {tmp_path}/failed; exit 1; fi\n"
                      f"cat >> {ran}; echo >> {ran}\n")
    script.chmod(0o755)
    args = ["--alertmanager", alertmanager, "--webhook", f"{receiver.url}/hook", "--exec", str(script),
            "--from-beginning", "--resend-seconds", "2", "--group", f"{prefix}-notify"]
    env = {**worker_env}
    base = (int(time.time() * 1000) // W - 20) * W
    events = _events(model, base)
    producer = stack.producer()

    def publish(batch):
        for e in batch:
            producer.produce(f"{prefix}.alerts", key=model.encode(), value=e.model_dump_json().encode())
        assert producer.flush(10) == 0

    notify = _notify(env, tmp_path / "notify.log", *args)
    try:
        publish(events["open"])
        wait_until(lambda: len(_active(alertmanager, model)) == 2, 60)
        time.sleep(10)  # longer than endsAt's 4 x 2 s: only the notifier's keep-alive keeps them firing
        active = {a["labels"]["feature"]: a for a in _active(alertmanager, model)}
        assert sorted(active) == ["age", "amount"]
        assert active["amount"]["labels"]["severity"] == "minor" and active["age"]["labels"]["severity"] == "major"
        assert active["amount"]["startsAt"].startswith(events["open"][0].incident_start[:19])
        assert "feature_drift" in active["amount"]["annotations"]["flux"]
        assert active["amount"]["status"]["state"] == "active"

        publish(events["close"])
        wait_until(lambda: not _active(alertmanager, model), 60)
        wait_until(lambda: any(n["status"] == "resolved" and n["alerts"][0]["labels"]["feature"] == "amount"
                               for n in receiver.notifications), 60)
        wait_until(lambda: len(receiver.hook) == 5 and ran.exists() and len(_lines(ran)) == 5, 60)
    finally:
        _stop(notify)
    # Restarted with the same group: only what came after its commit.
    notify = _notify(env, tmp_path / "notify-2.log", *args)
    try:
        publish(events["later"])
        wait_until(lambda: len(receiver.hook) == 6, 60)
        time.sleep(3)
    finally:
        _stop(notify)
    sent = [e.alert_id for batch in events.values() for e in batch]
    assert [h["alert_id"] for h in receiver.hook] == sent
    assert [json.loads(line)["alert_id"] for line in _lines(ran)] == sent
    amount = [n for n in receiver.notifications if n["alerts"][0]["labels"]["feature"] == "amount"]
    assert [n["status"] for n in amount][:2] == ["firing", "resolved"]
    figures(f"notify on the real stack: 6 events to a webhook and a command once each (first attempts failed "
            f"and were retried: {receiver.hook_attempts} webhook attempts); Alertmanager held each incident as "
            f"one alert through 10 s of keep-alives and notified its resolve")
