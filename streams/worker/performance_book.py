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
from detectors.stats.performance_drop import accuracy_drop, mae_rise
from schemas import DriftAlert
from schemas.partials import PerformancePartial
from streams.core.ports import MergeTable

log = logging.getLogger("driftline.merge")

WindowId = tuple[int, str, str, int]  # merge partition, model, version, window start


def _key(*parts) -> str:
    return orjson.dumps(list(parts)).decode()


class PerformanceBook:
    def __init__(self, table: MergeTable, sink, window_ms: int, horizon_ms: int,
                 final_until=lambda mp: None, send_alert=None, judging: tuple[float, float, int] = (0.05, 0.01, 100)
                 ) -> None:
        self.table = table
        self.send_alert = send_alert  # async (DriftAlert) -> None: the merge stage's, deduplicated by id
        self.margin, self.alpha, self.min_labels = judging
        self.baselines: dict[WindowId, dict] = {}  # the profile's reference performance, per final window
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
            if record.get("baseline"):
                self.baselines[(mp, key[2], key[3], key[4])] = record["baseline"]
        else:
            return False
        return True

    def forget(self, merge_partitions) -> None:
        gone = set(merge_partitions)
        self.copies = {k: v for k, v in self.copies.items() if k[0] not in gone}
        self.predicted = {k: v for k, v in self.predicted.items() if k[0] not in gone}
        self.estimated = {k: v for k, v in self.estimated.items() if k[0] not in gone}
        self.baselines = {k: v for k, v in self.baselines.items() if k[0] not in gone}

    async def partial(self, mp: int, p: PerformancePartial) -> None:
        window = (mp, p.model_id, p.model_version, p.window_start_ms)
        self.copies.setdefault(window, {})[p.join_partition] = p.state
        self.table[_key(mp, "performance", p.model_id, p.model_version, p.window_start_ms, p.join_partition)] = \
            orjson.dumps(p.state).decode()
        if window in self.predicted or self._final_without_events(window):
            await self._write([window])

    async def finalised(self, mp: int, windows: list[tuple[str, str, int, int, dict | None, dict | None]]) -> None:
        """Final windows (model, version, start, prediction count, CBPE estimate or None, the
        profile's baseline performance or None): recorded, and written when they have labels or an
        estimate. Windows past the horizon are forgotten."""
        written = []
        for model, version, start, count, estimated, baseline in windows:
            window = (mp, model, version, start)
            self.predicted[window] = count
            if estimated:
                self.estimated[window] = estimated
            if baseline:
                self.baselines[window] = baseline
            self.table[_key(mp, "predicted", model, version, start)] = orjson.dumps(
                {"count": count, "estimated": estimated, "baseline": baseline}).decode()
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
            self.baselines.pop(window, None)
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
            verdict = self._judge(window, fields)
            if verdict is not None:
                fields[f"{verdict.statistic}_severity"] = verdict.severity
                fields[f"{verdict.statistic}_p"] = verdict.pvalue
            rows.append((model, version, start, fields, verdict))
        if rows:
            await self.sink.write_performance([row[:4] for row in rows])
        for model, version, start, fields, verdict in rows:
            if verdict is not None and verdict.fired and self.send_alert is not None:
                await self.send_alert(DriftAlert.for_window(
                    model_id=model, model_version=version, window_start=start, window_end=start + self.window_ms,
                    feature="performance", statistic=verdict.statistic, value=verdict.value,
                    threshold=verdict.threshold, severity=verdict.severity))

    def _judge(self, window: WindowId, fields: dict):
        """The window's realised performance against the profile's baseline (none without one)."""
        baseline = self.baselines.get(window)
        n = int(fields.get("labeled_count") or 0)
        if not baseline or not n:
            return None
        if "accuracy" in baseline and "accuracy" in fields:
            return accuracy_drop(round(fields["accuracy"] * n), n, baseline["accuracy"], margin=self.margin,
                                 alpha=self.alpha, min_labels=self.min_labels)
        if "mae" in baseline and "mae" in fields:
            return mae_rise(fields["mae"], fields["mse"], n, baseline["mae"], margin=self.margin, alpha=self.alpha,
                            min_labels=self.min_labels)
        return None
