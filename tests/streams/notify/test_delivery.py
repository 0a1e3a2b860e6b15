"""Delivery retries: a failing target is retried with backoff until it succeeds, or until stop."""

from __future__ import annotations

import threading

from schemas import DriftAlert
from streams.notify.delivery import Backoff, deliver_until_done
from streams.notify.errors import DeliveryFailed

ALERT = DriftAlert.for_window(model_id="m", model_version="1", window_start=0, window_end=1, feature="f",
                              statistic="ks", value=0.2, threshold=0.05)


class Flaky:
    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def deliver(self, alert, raw) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise DeliveryFailed("HTTP 503")


def test_a_failing_target_is_retried_with_growing_delays_until_it_succeeds() -> None:
    waits: list[float] = []
    target = Flaky(failures=8)
    assert deliver_until_done(target, ALERT, b"{}", backoff=Backoff(1.0, 30.0), stop=threading.Event(),
                              wait=lambda s: waits.append(s) or False)
    assert target.calls == 9 and waits == [1, 2, 4, 8, 16, 30, 30, 30]


def test_stop_ends_the_retries_without_claiming_success() -> None:
    stop = threading.Event()
    target = Flaky(failures=100)

    def wait(seconds: float) -> bool:
        if target.calls == 3:
            stop.set()
        return stop.is_set()

    assert not deliver_until_done(target, ALERT, b"{}", backoff=Backoff(), stop=stop, wait=wait)
    assert target.calls == 3
