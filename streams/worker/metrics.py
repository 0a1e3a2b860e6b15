"""The worker's Prometheus metrics, one registry per worker, and the figures it keeps for /health.

Names follow Prometheus' conventions (`driftline_*_total` counters, units in names). Per-model
series are bounded: the first `max_models` (model, version) pairs seen get series of their own,
the rest are summed under model_id="_other" (a worker fed a model id per request must not grow a
series per request); per-feature values stay in InfluxDB, where they belong.
"""

from __future__ import annotations

import time

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector,
                               ProcessCollector)

OTHER = "_other"
DELAY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600, 86400)
WRITE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class WorkerMetrics:
    def __init__(self, max_models: int = 100, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, _resident_memory_bytes, _open_fds
        PlatformCollector(registry=self.registry)
        r = self.registry
        self.messages = Counter("driftline_messages", "Messages read from the predictions topic", registry=r)
        self.events = Counter("driftline_events", "Valid prediction events read", registry=r)
        self.dead_letters = Counter("driftline_dead_letter_events", "Events and messages sent to the DLQ, by reason",
                                    ["reason"], registry=r)
        self.windows_closed = Counter("driftline_partition_windows_closed",
                                      "Windows closed in a predictions partition (partials sent)", registry=r)
        self.windows_final = Counter("driftline_windows_finalised", "Windows merged from every partition and written",
                                     registry=r)
        self.close_delay = Histogram("driftline_window_close_delay_seconds",
                                     "Wall clock at a window's finalisation minus its end (event time)",
                                     buckets=DELAY_BUCKETS, registry=r)
        self.lag = Gauge("driftline_consumer_lag_messages", "Messages not yet read, per predictions partition",
                         ["partition"], registry=r)
        self.write_seconds = Histogram("driftline_influxdb_write_duration_seconds",
                                       "Duration of successful InfluxDB writes", buckets=WRITE_BUCKETS, registry=r)
        self.write_failures = Counter("driftline_influxdb_write_failures", "Failed InfluxDB write attempts",
                                      registry=r)
        self.alerts = Counter("driftline_alerts_published", "Alerts published on the alerts topic, by status",
                              ["status"], registry=r)
        labels = ["model_id", "model_version"]
        self.model_events = Gauge("driftline_model_window_events", "Events in the model's latest final window",
                                  labels, registry=r)
        self.model_drifting = Gauge("driftline_model_drifting_features",
                                    "Features whose drift verdict fired in the model's latest final window",
                                    labels, registry=r)
        self.model_window_end = Gauge("driftline_model_last_window_end_timestamp_seconds",
                                      "End (event time) of the model's latest final window", labels, registry=r)
        self.model_incidents = Gauge("driftline_model_open_incidents", "Open incidents of the model", labels,
                                     registry=r)
        self.max_models = max_models
        self._models: set[tuple[str, str]] = set()
        self._other: dict[tuple[str, str], tuple[int, int]] = {}  # models beyond the bound: latest figures
        # For /health: the worker's timer beats; the last InfluxDB outcome.
        self.started_at = self.beat_at = time.monotonic()
        self.influx_ok: bool | None = None
        self.assigned: set[int] = set()

    def labels_for(self, model_id: str, model_version: str) -> tuple[str, str] | None:
        """The model's own labels, or None once the bound is reached (it counts under _other)."""
        key = (model_id, model_version)
        if key in self._models:
            return key
        if len(self._models) < self.max_models:
            self._models.add(key)
            return key
        return None

    def final_window(self, model_id: str, model_version: str, end_ms: int, events: int, drifting: int) -> None:
        self.windows_final.inc()
        self.close_delay.observe(max(0.0, time.time() - end_ms / 1000))
        key = self.labels_for(model_id, model_version)
        if key is None:
            self._other[(model_id, model_version)] = (events, drifting)
            self.model_events.labels(OTHER, "").set(sum(e for e, _ in self._other.values()))
            self.model_drifting.labels(OTHER, "").set(sum(d for _, d in self._other.values()))
            return
        self.model_events.labels(*key).set(events)
        self.model_drifting.labels(*key).set(drifting)
        self.model_window_end.labels(*key).set(end_ms / 1000)

    def open_incidents(self, counts: dict[tuple[str, str], int]) -> None:
        """Open incidents per (model, version) of one merge partition's tracker (zeros included)."""
        other = 0
        for (model_id, version), n in counts.items():
            key = self.labels_for(model_id, version)
            if key is None:
                other += n
            else:
                self.model_incidents.labels(*key).set(n)
        if other:
            self.model_incidents.labels(OTHER, "").set(other)

    def beat(self) -> None:
        self.beat_at = time.monotonic()

    def health(self, stale_s: float = 10.0) -> tuple[bool, dict]:
        now = time.monotonic()
        alive = now - self.beat_at <= stale_s
        body = {"status": "ok" if alive and self.influx_ok is not False else "degraded" if alive else "stalled",
                "uptime_s": round(now - self.started_at, 1), "last_beat_s_ago": round(now - self.beat_at, 1),
                "influxdb": {None: "unknown", True: "ok", False: "failing"}[self.influx_ok],
                "predictions_partitions": sorted(self.assigned)}
        return alive, body
