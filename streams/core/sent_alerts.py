"""The alert ids this worker group has published recently, bounded in time and in size.

A replay after a crash must not publish an alert twice, so ids are remembered (and read back from
the alerts topic at start, see alerts.py). They are forgotten once their window ended more than
`horizon_ms` before the newest window seen (the start-up read covers the same 24 h), and the
oldest go first past `max_ids`, so the set stays bounded however long the worker runs.
"""

from __future__ import annotations

from collections import OrderedDict

HORIZON_MS = 24 * 3600 * 1000
MAX_IDS = 200_000


class SentAlerts:
    def __init__(self, horizon_ms: int = HORIZON_MS, max_ids: int = MAX_IDS) -> None:
        self.horizon_ms = horizon_ms
        self.max_ids = max_ids
        self._ids: OrderedDict[str, int] = OrderedDict()  # id -> window end (epoch ms), oldest first
        self._newest_ms = 0

    def __contains__(self, alert_id: str) -> bool:
        return alert_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, alert_id: str, window_end_ms: int) -> None:
        self._ids[alert_id] = window_end_ms
        self._ids.move_to_end(alert_id)
        self._newest_ms = max(self._newest_ms, window_end_ms)
        while len(self._ids) > self.max_ids:
            self._ids.popitem(last=False)
        oldest = next(iter(self._ids.items()))
        while oldest[1] < self._newest_ms - self.horizon_ms:  # ids arrive roughly in window order
            self._ids.popitem(last=False)
            oldest = next(iter(self._ids.items()))
