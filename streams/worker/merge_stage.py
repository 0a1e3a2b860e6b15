"""Stage two of the worker: the partials of every partition merged into one final window per
(model, version, window), written to InfluxDB and judged for alerts only then.

A faust agent reads `<app_id>.partials` (schemas/partials.py); each of its partitions has a
`WindowMerger` (merger.py, the rules) whose state lives in a faust Table, so a worker that takes
over a merge partition (restart, rebalance) recovers it from the table's changelog. One table key
per partial, per partition's progress and for the finalised bound: a change writes one small
changelog record, never the whole state.

Delivery: everything a message changes (table records, InfluxDB points, alerts) is delivered
before the message is acknowledged (the agent flushes the producer at the end of each step), so
a crash replays from a message whose effects are either complete or repeated identically:
partials replace their copies, progress only grows, points overwrite, alert ids are checked.

ADWIN: each partition's detector watches its own share of a model's events (a random subsample
when messages are spread at random); a change shows in several of them, in nearby windows. One
alert per change: the first detection of a (model, version, stream) is published, later ones
within one window length of event time of it are the same change and are dropped (logged).
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from detectors.stats.registry import statistic_of
from detectors.window import ModelWindow
from schemas.partials import (OnlineChange, PartitionProgress, PerformancePartial, WindowPartial,
                              decode_partials_message)
from streams.kafka.alerts import recent_alert_ids
from schemas import DriftAlert
from streams.core.findings import WindowFindings, drift_policy, incident_inputs
from streams.core.incidents import IncidentTracker, dedup_key_text
from streams.core.merger import FinalWindow, WindowMerger
from streams.core.partials import ProfileFingerprints
from streams.core.ports import MergeTable, Topic, WindowSink
from streams.core.sent_alerts import SentAlerts
from streams.settings import Settings
from streams.core.windowing import ClosedWindow
from streams.worker.metrics import WorkerMetrics
from streams.worker.performance_book import PerformanceBook

log = logging.getLogger("driftline.merge")
trace = logging.getLogger("driftline.trace")  # settings.trace_delivery


def _key(*parts) -> str:
    return orjson.dumps(list(parts)).decode()


class MergeRunner:
    def __init__(self, settings: Settings, predictions_partitions: int, sink: WindowSink, alerts_topic: Topic,
                 table: MergeTable) -> None:
        self.settings = settings
        self.predictions_partitions = predictions_partitions
        self.sink = sink
        self.alerts_topic = alerts_topic
        self.table = table  # str -> str (JSON text); a faust Table, or a dict in tests
        self.policy = drift_policy(settings)
        self.fingerprints = ProfileFingerprints()
        self.profile_data: dict[str, dict] = {}  # fingerprint -> profile dict, of the partials seen
        self.mergers: dict[int, WindowMerger] = {}
        self.online: dict[int, dict[tuple[str, str, str], int]] = {}  # merge partition -> last ADWIN window start
        self.incidents: dict[int, IncidentTracker] = {}  # merge partition -> its models' open incidents
        self.sent_alerts = SentAlerts()
        self.watermarks: dict[int, int] = {}  # predictions partition -> largest event time it reported
        self.progress: dict[int, int] = {}  # predictions partition -> largest closed-until it reported
        self._reload_alerts = True
        self._warned_partitions = False
        self.metrics = WorkerMetrics(settings.metrics_max_models)  # the adapter shares one with stage one
        # What the two stages add per window (building partials, reading and merging them; not the
        # InfluxDB write, which a single stage pays too): logged with each final window.
        self._cost_ms: dict[tuple, float] = {}
        self.performance = PerformanceBook(
            table, sink, settings.window_ms, int(settings.label_horizon_seconds * 1000),
            final_until=lambda mp: self.mergers[mp].finalised_until_ms if mp in self.mergers else None,
            send_alert=self._send_alert,
            judging=(settings.performance_margin, settings.performance_alpha, settings.performance_min_labels))

    def _restore(self, state: dict, fingerprint: str | None) -> ModelWindow:
        profile = None if fingerprint is None else self.fingerprints.profile(fingerprint, self.profile_data[fingerprint])
        return ModelWindow.from_state(state, profile)

    async def _open(self, mp: int) -> WindowMerger:
        """A merge partition's first message since assignment: its merger from the table (faust has
        recovered the table before the agent gets messages), and the alerts already published."""
        if self._reload_alerts:
            self._reload_alerts = False
            for alert_id, window_end in (await asyncio.to_thread(recent_alert_ids, self.settings)).items():
                self.sent_alerts.add(alert_id, window_end)
        state = {"version": 1, "finalised_until": 0, "progress": {}, "partials": [], "closed_by": []}
        online: dict[tuple[str, str, str], int] = {}
        tracker = self.incidents[mp] = self._new_tracker()
        rows = [(orjson.loads(raw_key), raw_key, value) for raw_key, value in list(self.table.items())]
        finalised = max((int(v) for k, _, v in rows if k[0] == mp and k[1] == "finalised"), default=0)
        for key, raw_key, value in rows:
            if key[0] != mp:
                continue
            if key[1] == "partial":
                partial = decode_partials_message(value)
                if partial.window_end_ms <= finalised:  # final before a crash that left it: not again
                    self.table.pop(raw_key, None)
                    continue
                self.profile_data.setdefault(partial.profile_fingerprint, partial.profile)
                state["partials"].append([[partial.model_id, partial.model_version, partial.window_start_ms,
                                           partial.window_end_ms], partial.partition, partial.profile_fingerprint,
                                          partial.state])
                state["closed_by"].append([state["partials"][-1][0], [partial.closed_by]])
            elif key[1] == "progress":
                state["progress"][str(key[2])] = int(value)
            elif key[1] == "finalised":
                state["finalised_until"] = int(value)
            elif key[1] == "incident":
                tracker.restore(tuple(key[2:6]), orjson.loads(value))
            elif key[1] == "online":
                online[(key[2], key[3], key[4])] = int(value)
            else:
                self.performance.restore(mp, key, value)
        merger = self.mergers[mp] = WindowMerger.from_state(state, self.predictions_partitions, self._restore)
        self.online[mp] = online
        log.info("merge partition %d: %d pending partial(s), progress from %d of %d partition(s)", mp,
                 len(state["partials"]), len(state["progress"]), self.predictions_partitions)
        return merger

    @property
    def topic_watermark_ms(self) -> int | None:
        """The largest event time any predictions partition has reported (with its progress, so
        at least once per window): what an idle partition may close up to (windowing.py)."""
        return max(self.watermarks.values(), default=None)

    @property
    def topic_progress_ms(self) -> int | None:
        """The furthest any predictions partition has closed its windows (by its progress)."""
        return max(self.progress.values(), default=None)

    def _new_tracker(self) -> IncidentTracker:
        s = self.settings
        return IncidentTracker(clear_ratio=s.alert_clear_ratio, clear_windows=s.alert_clear_windows,
                               repeat_ms=int(s.alert_repeat_seconds * 1000))

    def forget(self, merge_partitions) -> None:
        for mp in merge_partitions:
            self.mergers.pop(mp, None)
            self.incidents.pop(mp, None)
            self.online.pop(mp, None)
        self.performance.forget(merge_partitions)

    def assigned(self) -> None:
        self._reload_alerts = True  # another worker may have published since we last looked

    async def handle(self, mp: int, raw: bytes, offset: int = -1) -> None:
        merger = self.mergers.get(mp)
        if merger is None:
            merger = await self._open(mp)
        began = time.perf_counter()
        try:
            message = decode_partials_message(raw)
        except ValueError as exc:  # not from a worker of this release: say so, and go on
            log.error("merge partition %d: unreadable message skipped (%s)", mp, str(exc).splitlines()[0][:200])
            return
        if isinstance(message, WindowPartial):
            accepted = self._partial(mp, merger, message, raw)
            trace.info("merge partition %d offset %d: partial of partition %d model=%s version=%s start=%d count=%d "
                       "%s", mp, offset, message.partition, message.model_id, message.model_version or "-",
                       message.window_start_ms, message.state["count"], "taken" if accepted else "ignored (final)")
            if accepted:
                key = (message.model_id, message.model_version, message.window_start_ms)
                self._cost_ms[key] = (self._cost_ms.get(key, 0.0) + message.built_ms
                                      + (time.perf_counter() - began) * 1000)
        elif isinstance(message, PartitionProgress):
            trace.info("merge partition %d offset %d: progress of partition %d closed_until=%d", mp, offset,
                       message.partition, message.closed_until_ms)
            await self._progress(mp, merger, message)
        elif isinstance(message, OnlineChange):
            await self._online(mp, message)
        elif isinstance(message, PerformancePartial):
            await self.performance.partial(mp, message)

    def _partial(self, mp: int, merger: WindowMerger, partial: WindowPartial, raw: bytes) -> bool:
        window_id = (partial.model_id, partial.model_version, partial.window_start_ms, partial.window_end_ms)
        if partial.profile_fingerprint is not None:
            self.profile_data.setdefault(partial.profile_fingerprint, partial.profile)
        if merger.add_partial(window_id, partial.partition, partial.profile_fingerprint, partial.state,
                              partial.closed_by):
            self.table[_key(mp, "partial", *window_id, partial.partition)] = raw.decode()
            return True
        return False

    async def _progress(self, mp: int, merger: WindowMerger, progress: PartitionProgress) -> None:
        if progress.partitions != self.predictions_partitions and not self._warned_partitions:
            self._warned_partitions = True
            log.warning("partition %d reports %d predictions partitions, this worker knows %d: restart every "
                        "worker after changing the partition count", progress.partition, progress.partitions,
                        self.predictions_partitions)
        if progress.watermark_ms is not None and progress.watermark_ms > self.watermarks.get(progress.partition, -1):
            self.watermarks[progress.partition] = progress.watermark_ms
        if progress.closed_until_ms > self.progress.get(progress.partition, -1):
            self.progress[progress.partition] = progress.closed_until_ms
        merger.progress(progress.partition, progress.closed_until_ms)
        self.table[_key(mp, "progress", progress.partition)] = str(progress.closed_until_ms)
        began = time.perf_counter()
        final = merger.finalise()
        if not final:
            return
        merged_ms = (time.perf_counter() - began) * 1000 / len(final)
        for f in final:
            key = f.window_id[:3]
            self._cost_ms[key] = self._cost_ms.get(key, 0.0) + merged_ms
        await self._write(mp, final)
        # The bound before the pops: the changelog keeps their order, and a crash between them must
        # leave stale partials (dropped when the table is read back, `_open`), never a window with
        # some partials gone and the bound not moved (it would be finalised again with the rest).
        self.table[_key(mp, "finalised")] = str(merger.finalised_until_ms)
        for f in final:
            for partition in f.partitions_seen:
                self.table.pop(_key(mp, "partial", *f.window_id, partition), None)

    async def _write(self, mp: int, final: list[FinalWindow]) -> None:
        findings = [WindowFindings(ClosedWindow(*f.window_id, f.window, -1, f.closed_by), self.settings, self.policy)
                    for f in final]
        await self.sink.write(findings)
        await self.performance.finalised(mp, [(*f.window_id[:3], found.snapshot["count"], found.snapshot.get("estimated"),
                                               _baseline(f.window.profile)) for f, found in zip(final, findings)])
        tracker = self.incidents.setdefault(mp, self._new_tracker())
        for f, found in zip(final, findings):  # oldest first: the incidents' order of events
            await self._incident_events(mp, tracker, found)
            model = f.window_id[:2]
            self.metrics.final_window(*model, f.window_id[3], found.snapshot["count"],
                                      sum(1 for v in found.verdicts.values() if v.drifted))
            self.metrics.open_incidents({model: sum(1 for k in tracker.open if k[:2] == model)})
            _log_final(f, found, self._cost_ms.pop(f.window_id[:3], 0.0))
            trace.info("merge partition %d finalised model=%s version=%s start=%d from %s (progress %s)", mp,
                       f.window_id[0], f.window_id[1] or "-", f.window_id[2],
                       " ".join(f"{p}:{n}" for p, n in f.counts), self.mergers[mp].progress_text()
                       if mp in self.mergers else "?")

    async def _incident_events(self, mp: int, tracker: IncidentTracker, found: WindowFindings) -> None:
        """The window's drift verdicts into incidents (incidents.py): alerts only when one opens,
        escalates, reminds or resolves; the incidents' state is saved in the table."""
        w = found.window
        signals, values = incident_inputs(found, self.settings)
        touched = {(w.model_id, w.model_version, s.feature, s.family) for s in signals}
        touched |= {k for k in tracker.open if k[:2] == (w.model_id, w.model_version)}
        for event in tracker.observe(w.model_id, w.model_version, w.start_ms, w.end_ms, signals, values):
            model_id, version, feature, _ = event.dedup_key
            await self._send_alert(DriftAlert.for_incident(
                alert_id=event.alert_id, model_id=model_id, model_version=version, window_start=event.window_start_ms,
                window_end=event.window_end_ms, feature=feature, statistic=event.statistic, value=event.value,
                threshold=event.threshold, severity=event.severity, status=event.status, reason=event.reason,
                dedup_key=dedup_key_text(event.dedup_key), incident_start=event.incident_start_ms,
                windows_in_incident=event.windows_in_incident))
            log.info("incident %s %s (%s) at window %s: %s=%.3f", dedup_key_text(event.dedup_key), event.status,
                     event.reason, time.strftime("%H:%M:%S", time.gmtime(event.window_start_ms / 1000)),
                     event.statistic, event.value)
        for key in touched:
            state = tracker.incident_state(key)
            table_key = _key(mp, "incident", *key)
            if state is None:
                self.table.pop(table_key, None)
            else:
                self.table[table_key] = orjson.dumps(state).decode()

    async def _online(self, mp: int, change: OnlineChange) -> None:
        alert = change.alert
        stream = (alert.model_id, alert.model_version, alert.feature)
        seen = self.online.setdefault(mp, {})
        last = seen.get(stream)
        if last is not None and abs(alert.window_start_ms - last) <= self.settings.window_ms:
            log.info("ADWIN change in %s of model=%s version=%s seen again by partition %d (event %s): the same "
                     "change, not alerted again", alert.feature, alert.model_id, alert.model_version or "-",
                     change.partition, change.event_id)
            return
        seen[stream] = alert.window_start_ms
        self.table[_key(mp, "online", *stream)] = str(alert.window_start_ms)
        log.info("ADWIN change in %s of model=%s version=%s at event %s (partition %d)", alert.feature,
                 alert.model_id, alert.model_version or "-", change.event_id, change.partition)
        await self._send_alert(alert)

    async def _send_alert(self, alert) -> None:
        if alert.alert_id not in self.sent_alerts:
            delivery = await self.alerts_topic.send(key=alert.model_id.encode(), value=alert.model_dump_json().encode())
            await delivery
            self.sent_alerts.add(alert.alert_id, alert.window_end_ms)
            self.metrics.alerts.labels(getattr(alert, "status", None) or "firing").inc()


def _baseline(profile) -> dict | None:
    """What performance alerts compare with: the profile's reference performance, if it has one."""
    performance = getattr(profile, "performance", None)
    return None if performance is None else dict(performance.baseline)


def _log_final(final: FinalWindow, found: WindowFindings, cost_ms: float) -> None:
    (model_id, version, start, _), snap = final.window_id, found.snapshot
    drifting = sorted(f"{v.feature}:{statistic_of(v.metric)}={v.effect:.3f}"
                      for v in found.verdicts.values() if v.drifted)
    worst = max(((f, s["psi"]) for f, s in snap["features"].items() if s["psi"] == s["psi"]),
                key=lambda fs: fs[1], default=None)
    log.info("window closed model=%s version=%s start=%s count=%d late=%d%s (%s, %d partition(s), merge %.1f ms)",
             model_id, version or "-", time.strftime("%H:%M:%S", time.gmtime(start / 1000)), snap["count"],
             snap["late_count"], (f" max_psi={worst[1]:.3f} ({worst[0]})" if worst else " no profile")
             + (f" drift: {', '.join(drifting)}" if drifting else ""), final.closed_by, len(final.partitions), cost_ms)
    if final.unmerged_events:
        log.warning("window model=%s version=%s start=%s: %d event(s) of partitions whose window used another "
                    "profile are not in its statistics", model_id, version or "-", start, final.unmerged_events)
