"""Webhook and command hooks: each alert event as JSON, posted to a URL or given on a command's
stdin. Success is an HTTP 2xx or exit status 0; anything else raises DeliveryFailed (retried)."""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request

from schemas import DriftAlert
from streams.notify.errors import DeliveryFailed


def post_json(url: str, body: bytes, timeout_s: float) -> None:
    """POST `body` as JSON; DeliveryFailed unless the answer is 2xx."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "driftline-notify"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode("utf-8", "replace").strip().replace("\n", " ")
        raise DeliveryFailed(f"{url} answered HTTP {exc.code}{': ' + detail if detail else ''}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"{url} unreachable: {reason}") from exc


class WebhookTarget:
    """POSTs every alert event (the alerts topic's JSON, unchanged) to `url`."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.name = f"webhook {url}"

    def deliver(self, alert: DriftAlert, raw: bytes) -> None:
        post_json(self.url, raw, self.timeout_s)


class CommandTarget:
    """Runs `command` (through the shell) with the alert's JSON on stdin and its main fields in
    the environment (DRIFTLINE_ALERT_STATUS, _MODEL_ID, _FEATURE, _STATISTIC, _SEVERITY, _ID)."""

    def __init__(self, command: str, *, timeout_s: float = 60.0) -> None:
        self.command = command
        self.timeout_s = timeout_s
        self.name = f"command {command!r}"

    def deliver(self, alert: DriftAlert, raw: bytes) -> None:
        env = {**os.environ, "DRIFTLINE_ALERT_STATUS": alert.status, "DRIFTLINE_ALERT_MODEL_ID": alert.model_id,
               "DRIFTLINE_ALERT_MODEL_VERSION": alert.model_version, "DRIFTLINE_ALERT_FEATURE": alert.feature,
               "DRIFTLINE_ALERT_STATISTIC": alert.statistic, "DRIFTLINE_ALERT_SEVERITY": alert.severity,
               "DRIFTLINE_ALERT_ID": alert.alert_id}
        try:
            done = subprocess.run(self.command, shell=True, input=raw, env=env, capture_output=True,
                                  timeout=self.timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise DeliveryFailed(f"{self.name} did not finish within {self.timeout_s:g} s") from exc
        except OSError as exc:
            raise DeliveryFailed(f"{self.name} could not start: {exc}") from exc
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise DeliveryFailed(f"{self.name} exited with status {done.returncode}"
                                 + (f": {tail[0][:200]}" if tail[0] else ""))
