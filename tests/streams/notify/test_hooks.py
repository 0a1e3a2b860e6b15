"""Webhook and command hooks against a real local HTTP server and a real shell."""

from __future__ import annotations

import http.server
import threading

import pytest

from schemas import DriftAlert
from streams.notify.errors import DeliveryFailed
from streams.notify.hooks import CommandTarget, WebhookTarget

ALERT = DriftAlert.for_window(model_id="m", model_version="1", window_start=0, window_end=1, feature="f",
                              statistic="ks", value=0.2, threshold=0.05)
RAW = ALERT.model_dump_json().encode()


@pytest.fixture
def server():
    received: list[bytes] = []
    codes = [503, 200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            code = codes.pop(0) if codes else 200
            if code == 200:
                received.append(body)
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"busy" if code != 200 else b"")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", received
    httpd.shutdown()


def test_webhook_posts_the_event_and_reports_a_failed_attempt_in_one_line(server) -> None:
    url, received = server
    target = WebhookTarget(url, timeout_s=5)
    with pytest.raises(DeliveryFailed, match="HTTP 503: busy"):
        target.deliver(ALERT, RAW)
    target.deliver(ALERT, RAW)
    assert received == [RAW]
    with pytest.raises(DeliveryFailed, match="unreachable"):
        WebhookTarget("http://127.0.0.1:1/x", timeout_s=2).deliver(ALERT, RAW)


def test_command_gets_the_event_on_stdin_and_its_fields_in_the_environment(tmp_path) -> None:
    out = tmp_path / "out"
    CommandTarget(f'cat > {out}; echo "$DRIFTLINE_ALERT_STATUS $DRIFTLINE_ALERT_FEATURE" >> {out}').deliver(ALERT, RAW)
    assert out.read_bytes() == RAW + b"firing f\n"
    with pytest.raises(DeliveryFailed, match="exited with status 3: nope"):
        CommandTarget("echo nope >&2; exit 3").deliver(ALERT, RAW)
    with pytest.raises(DeliveryFailed, match="did not finish within 0.5 s"):
        CommandTarget("sleep 5", timeout_s=0.5).deliver(ALERT, RAW)
