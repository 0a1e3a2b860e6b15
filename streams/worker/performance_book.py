"""The merge stage's part of the label join: each (model, version, window)'s realised performance,
merged over the join partitions' latest copies (PerformancePartial, join_stage.py), written to
InfluxDB's `window_performance` (same timestamp and tags each time: the newest value wins) once
the window is final, and again whenever one of its copies changes. Copies and the windows'
prediction counts live in the merge table (keys "performance" and "predicted"), so a worker
that takes the merge partition over recovers them."""

from __future__ import annotations

import logging

import orjson

from detectors.performance import WindowPerformance
from schemas.partials import PerformancePartial
from streams.core.ports import MergeTable

log = logging.getLogger("driftline.merge")

WindowId = tuple[int, str, str, int]  # merge partition, model, version, window start


def _key(*parts) -> str:
    return orjson.dumps(list(parts)).decode()


class PerformanceBook:
    def __init__(self, table: MergeTable, sink, window_ms: int, horizon_ms: int,
                 final_until=lambda mp: None) -> None:
        self.table = table
        # merge partition -> every window ending at or before it is final (None: not known yet);
        # a window no prediction fell in (orphans only) is final then, with 0 predictions.
        self.final_until = final_until
        self.sink = sink
        self.window_ms = window_ms
        self.horizon_ms = horizon_ms
        self.copies: dict[WindowId, dict[int, dict]] = {}  # -> join partition -> WindowPerformance state
        self.predicted: dict[WindowId, int] = {}
        self.estimated: dict[WindowId, dict] = {}  # CBPE's estimate of the final window, when it has one

    def restore(self, mp: int, key: list, value: str) -> bool:
        """A table record of this book's (at a merge partition's opening); False if not one."""
        if key[1] == "performance":
            self.copies.setdefault((mp, key[2], key[3], key[4]), {})[int(key[5])] = orjson.loads(value)
        elif key[1] == "predicted":
            record = orjson.loads(value)
            self.predicted[(mp, key[2], key[3], key[4])] = int(record["count"])
            if record.get("estimated"):
                self.estimated[(mp, key[2], key[3], key[4])] = record["estimated"]
        else:
            return False
        return True

    def forget(self, merge_partitions) -> None:
        gone = set(merge_partitions)
        self.copies = {k: v for k, v in self.copies.items() if k[0] not in gone}
        self.predicted = {k: v for k, v in self.predicted.items() if k[0] not in gone}
        self.estimated = {k: v for k, v in self.estimated.items() if k[0] not in gone}

    async def partial(self, mp: int, p: PerformancePartial) -> None:
        window = (mp, p.model_id, p.model_version, p.window_start_ms)
        self.copies.setdefault(window, {})[p.join_partition] = p.state
        self.table[_key(mp, "performance", p.model_id, p.model_version, p.window_start_ms, p.join_partition)] = \
            orjson.dumps(p.state).decode()
        if window in self.predicted or self._final_without_events(window):
            await self._write([window])

    async def finalised(self, mp: int, windows: list[tuple[str, str, int, int, dict | None]]) -> None:
        """Final windows (model, version, start, prediction count, CBPE estimate or None): recorded,
        and written when they have labels or an estimate. Windows past the horizon are forgotten."""
        written = []
        for model, version, start, count, estimated in windows:
            window = (mp, model, version, start)
            self.predicted[window] = count
            if estimated:
                self.estimated[window] = estimated
            self.table[_key(mp, "predicted", model, version, start)] = orjson.dumps(
                {"count": count, "estimated": estimated}).decode()
            if window in self.copies or estimated:
                written.append(window)
        written += [w for w in self.copies if w[0] == mp and w not in self.predicted and w not in written
                    and self._final_without_events(w)]
        if written:
            await self._write(written)
        newest = max((w[3] for w in windows), default=None)
        if newest is not None:
            self._expire(mp, newest - self.horizon_ms - self.window_ms)

    def _final_without_events(self, window: WindowId) -> bool:
        bound = self.final_until(window[0])
        return window not in self.predicted and bound is not None and window[3] + self.window_ms <= bound

    def _expire(self, mp: int, before_ms: int) -> None:
        for window in [w for w in self.predicted if w[0] == mp and w[3] < before_ms]:
            self.predicted.pop(window)
            self.estimated.pop(window, None)
            self.table.pop(_key(mp, "predicted", *window[1:]), None)
            for jp in self.copies.pop(window, {}):
                self.table.pop(_key(mp, "performance", *window[1:], jp), None)

    def merged(self, window: WindowId) -> WindowPerformance | None:
        states = [WindowPerformance.from_state(s) for _, s in sorted(self.copies.get(window, {}).items())]
        if not states:
            return None
        out = states[0]
        for s in states[1:]:
            out = out.merge(s)
        return out

    async def _write(self, windows: list[WindowId]) -> None:
        rows = []
        for window in windows:
            merged = self.merged(window)
            estimated = self.estimated.get(window, {})
            if merged is None and not estimated:
                continue
            _, model, version, start = window
            fields = {} if merged is None else merged.snapshot(predicted=self.predicted.get(window, 0))
            fields.update(estimated)
            if "accuracy" in fields and "estimated_accuracy" in fields and fields.get("labeled_count"):
                # What CBPE cannot see by itself: the realised accuracy's departure from its estimate.
                fields["estimation_gap"] = fields["accuracy"] - fields["estimated_accuracy"]
            rows.append((model, version, start, fields))
        if rows:
            await self.sink.write_performance(rows)
