"""A delivery that did not succeed; delivery.py retries it with backoff, the CLI never sees it."""

from streams.errors import DriftlineError


class DeliveryFailed(DriftlineError):
    """One attempt to hand an alert to a target failed (the message says why, in one line)."""
