"""Repeated log lines are collapsed: the first of a kind passes, the rest of its interval are
counted and reported with the next one that passes.

While a broker is away, aiokafka and librdkafka log every reconnect attempt (more than a thousand
ERROR lines in 24 s were seen); an operator needs the first line and a count, not a wall of them.
A kind is the logger, the level and the text with its numbers blanked out (so two different
profiles rejected are two kinds, and reconnects to the same broker are one).
A partition's number stays in the kind.
"""

from __future__ import annotations

import logging
import re
import time

INTERVAL_S = 10.0
# Standalone numbers: "m0" and "m1" stay two names; so do "partition 2" and "partition 3" (a
# rebalance's warnings about two partitions are two facts, not a storm).
_NUMBERS = re.compile(r"(?<!partition )\b\d+\b")


class RepeatFilter(logging.Filter):
    def __init__(self, interval_s: float = INTERVAL_S, clock=time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._clock = clock
        self._kinds: dict[tuple, list] = {}  # kind -> [passed at, suppressed since]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:  # only warnings and errors repeat in storms
            return True
        kind = (record.name, record.levelno, _NUMBERS.sub("#", record.getMessage())[:160])
        now = self._clock()
        seen = self._kinds.get(kind)
        if seen is not None and now - seen[0] < self.interval_s:
            seen[1] += 1
            return False
        suppressed = seen[1] if seen is not None else 0
        self._kinds[kind] = [now, 0]
        if len(self._kinds) > 1000:  # kinds of long ago are not worth remembering
            self._kinds = {k: v for k, v in self._kinds.items() if now - v[0] < self.interval_s}
        if suppressed:
            # Formatted here, and kept formattable: mode's formatter applies `msg % args` itself
            # (args None made it raise "not all arguments converted").
            text = f"{record.getMessage()} (+{suppressed} like it in the last {self.interval_s:.0f} s)"
            record.msg, record.args = "%s", (text,)
        return True


def install(interval_s: float = INTERVAL_S) -> None:
    """Attach the filter to every handler of the root logger (faust installs its own handlers, so
    this runs once the worker has started)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            handler.addFilter(RepeatFilter(interval_s))
