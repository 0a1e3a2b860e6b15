"""`/metrics` (Prometheus text format) and `/health` (JSON) on `DRIFTLINE_METRICS_ADDRESS`, served
from a daemon thread so a slow scrape never holds the event loop.

/health answers 200 while the worker's timer beats (InfluxDB failing is reported as "degraded",
still 200: restarting a worker does not bring InfluxDB back) and 503 when it has stalled.
"""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import orjson
from prometheus_client import make_wsgi_app

from streams.worker.metrics import WorkerMetrics

log = logging.getLogger("driftline.worker")


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # a scrape every 15 s is not worth a log line
        pass


def parse_address(address: str) -> tuple[str, int] | None:
    """"host:port" (or ":port", or "port") -> (host, port); "" or "off" -> None."""
    address = address.strip()
    if address in ("", "off"):
        return None
    host, _, port = address.rpartition(":")
    return (host or "127.0.0.1").strip("[]"), int(port)


def serve(metrics: WorkerMetrics, address: str):
    """Start serving; returns the server (its `server_address` is where it listens), or None when
    disabled or the address is taken (logged once: the worker goes on without metrics)."""
    where = parse_address(address)
    if where is None:
        return None
    prometheus = make_wsgi_app(metrics.registry)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/health":
            alive, body = metrics.health()
            start_response("200 OK" if alive else "503 Service Unavailable",
                           [("Content-Type", "application/json")])
            return [orjson.dumps(body)]
        if environ.get("PATH_INFO") in ("/metrics", "/"):
            return prometheus(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /health\n"]

    try:
        server = make_server(where[0], where[1], app, server_class=_Server, handler_class=_QuietHandler)
    except OSError as exc:
        log.warning("metrics not served: cannot listen on %s:%d (%s); set DRIFTLINE_METRICS_ADDRESS to a free "
                    "address, or to off", where[0], where[1], exc.strerror)
        return None
    threading.Thread(target=server.serve_forever, name="driftline-metrics", daemon=True).start()
    host, port = server.server_address[:2]
    log.info("metrics on http://%s:%d/metrics, health on /health", host, port)
    return server
