"""The worker's /metrics scraped by a real Prometheus (built once by deploy/build-prometheus.sh),
read back with PromQL over Prometheus' HTTP API: the figures equal what the test produced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import orjson
import pytest

from tests.stack_helpers import free_port
from tests.streams.stack_data import feature_rows, publish_profile, wait_until, window_fields

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
WINDOW_MS = 10_000


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return json.loads(response.read())
    except OSError:
        return None


@pytest.fixture
def metrics_port() -> int:
    return free_port()


@pytest.fixture
def prometheus(tmp_path, metrics_port):
    binary = os.environ.get("DRIFTLINE_PROMETHEUS_BIN") or subprocess.run(
        [str(ROOT / "deploy/build-prometheus.sh")], check=True, capture_output=True, text=True).stdout.strip()
    port = free_port()
    while port == metrics_port:  # both picked before either binds: never the same one
        port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: driftline
    static_configs:
      - targets: ['127.0.0.1:{metrics_port}']
""")
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: _ready(url), 60), (tmp_path / "prometheus.log").read_text()[-2000:]
    yield url
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _ready(url: str) -> bool:
    try:
        return urllib.request.urlopen(f"{url}/-/ready", timeout=2).status == 200
    except OSError:
        return False


def _query(url: str, promql: str) -> dict[tuple, float]:
    """PromQL instant query -> {(label=value, ...): value}."""
    answer = _get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})) or {}
    return {tuple(sorted((k, v) for k, v in r["metric"].items() if k not in ("job", "instance", "__name__"))):
            float(r["value"][1]) for r in answer.get("data", {}).get("result", [])}


def _scalar(url: str, promql: str) -> float | None:
    values = list(_query(url, promql).values())
    return values[0] if len(values) == 1 else None


def test_prometheus_scrapes_the_worker_and_promql_returns_what_was_produced(
        stack, start_worker, worker_env, prometheus, metrics_port):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"prom-{prefix}"
    start_worker(DRIFTLINE_WINDOW_SECONDS="10", DRIFTLINE_ALLOWED_LATENESS_SECONDS="2",
                 DRIFTLINE_IDLE_GRACE_SECONDS="2", DRIFTLINE_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}")
    publish_profile(stack, f"{prefix}.profiles", model)
    time.sleep(1.0)
    assert wait_until(lambda: _scalar(prometheus, 'up{job="driftline"}') == 1.0
                      and _scalar(prometheus, "driftline_events_total") is not None, 30), "Prometheus never saw the worker"
    health = _get(f"http://127.0.0.1:{metrics_port}/health")
    assert health["status"] == "ok" and health["predictions_partitions"]

    rng = np.random.default_rng(20261201)
    base = (int(time.time() * 1000) // WINDOW_MS - 30) * WINDOW_MS
    counts = (1500, 1000)
    producer = stack.producer(**{"compression.type": "lz4"})
    topic = f"{prefix}.predictions"
    for w, n in enumerate(counts):
        times = np.sort(rng.integers(base + w * WINDOW_MS, base + (w + 1) * WINDOW_MS, n))
        rows = feature_rows(rng, n)
        events = [{"event_id": f"{w}-{i}", "model_id": model, "model_version": "v1", "timestamp": int(times[i]),
                   "features": rows[i], "prediction": float(rng.random()), "latency_ms": 5.0} for i in range(n)]
        for i in range(0, n, 500):
            producer.produce(topic, key=model.encode(), value=orjson.dumps({"events": events[i:i + 500]}))
    producer.produce(topic, key=model.encode(), value=b"{not json")
    producer.produce(topic, key=model.encode(), value=b"{also not json")
    assert producer.flush(10) == 0

    lo, hi = base // 1000 - 60, base // 1000 + 3600
    assert wait_until(lambda: len(window_fields(stack, "window_stats", model, lo, hi)) == 2, 90), "windows not written"
    want = {"driftline_events_total": sum(counts), 'driftline_dead_letter_events_total{reason="not_json"}': 2,
            "driftline_windows_finalised_total": 2, "driftline_messages_total": sum(-(-n // 500) for n in counts) + 2,
            f'driftline_model_window_events{{model_id="{model}"}}': counts[-1],
            f'driftline_model_drifting_features{{model_id="{model}"}}': 0,
            f'driftline_model_last_window_end_timestamp_seconds{{model_id="{model}"}}': (base + 2 * WINDOW_MS) / 1000}

    def settled():
        return all(_scalar(prometheus, q) == v for q, v in want.items())

    wait_until(settled, 30)
    got = {q: _scalar(prometheus, q) for q in want}
    assert got == want
    assert _scalar(prometheus, "driftline_window_close_delay_seconds_count") == 2
    assert _scalar(prometheus, "driftline_influxdb_write_duration_seconds_count") >= 1
    assert _scalar(prometheus, "driftline_influxdb_write_failures_total") == 0
    assert _scalar(prometheus, "process_resident_memory_bytes") > 10_000_000
    assert _scalar(prometheus, "process_open_fds") > 0
    assert _scalar(prometheus, "rate(process_cpu_seconds_total[10s])") is not None
    lags = _query(prometheus, "driftline_consumer_lag_messages")
    assert lags and all(v == 0 for v in lags.values()), lags  # everything read
    assert {dict(k)["partition"] for k in lags} == {str(p) for p in health["predictions_partitions"]}
