"""`driftline notify`: the alerts topic to Alertmanager, webhooks and commands (streams/notify/)."""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
from urllib.parse import urlparse

from streams.errors import DriftlineError
from streams.notify.alertmanager import AlertmanagerTarget
from streams.notify.delivery import Backoff, Notifier, Target
from streams.notify.hooks import CommandTarget, WebhookTarget
from streams.settings import Settings


def _url(kind: str, url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise DriftlineError(f"--{kind} needs an http(s) URL, got {url!r}")
    return url


def build_targets(settings: Settings, *, alertmanager: list[str], webhook: list[str], commands: list[str],
                  timeout_s: float, resend_s: float) -> list[Target]:
    targets: list[Target] = [AlertmanagerTarget(_url("alertmanager", u), bucket=settings.influx_bucket,
                                                resend_s=resend_s, timeout_s=timeout_s) for u in alertmanager]
    targets += [WebhookTarget(_url("webhook", u), timeout_s=timeout_s) for u in webhook]
    targets += [CommandTarget(c, timeout_s=timeout_s) for c in commands]
    if not targets:
        raise DriftlineError("nothing to notify: give --alertmanager URL, --webhook URL or --exec CMD")
    return targets


def default_group(settings: Settings, targets: list[Target]) -> str:
    """One group per set of targets, stable across restarts (so a restart resumes where it was)."""
    digest = hashlib.sha256("\n".join(sorted(t.name for t in targets)).encode()).hexdigest()[:10]
    return f"{settings.topic_prefix}-notify-{digest}"


def run_notify(settings: Settings, targets: list[Target], *, group: str | None, since_hours: float,
               from_beginning: bool, resend_s: float, log_level: str) -> None:
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    group = group or default_group(settings, targets)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logging.getLogger("driftline.notify").info(
        "delivering %s to %s (consumer group %s)", settings.alerts_topic, ", ".join(t.name for t in targets), group)
    Notifier(settings, targets, group=group, since_hours=since_hours, from_beginning=from_beginning,
             backoff=Backoff(), keep_alive_s=resend_s, stop=stop).run()
