"""The faust worker: predictions in, event-time windows closed, results and alerts out.

Follow one message: `process` (below) has it decoded, batches in a thread ahead of time
(read_ahead.py, decoding.py); `WindowRunner.handle` then routes bad events to the DLQ,
adds the good ones to its partition's windows (windowing.py), and closes due windows, whose
points go to InfluxDB (sinks/influx.py) and whose alerts go to the alerts topic.

Delivery: offsets are committed only past messages whose windows are all written. The first
message of every open window is held un-acked, so after a crash the worker replays from the
oldest open window and rebuilds it. After each close a per-partition checkpoint (checkpoint.py)
records which windows closed when, so the replay skips what was written and counts late events
where they were counted. Points are keyed by window start, so a rewrite overwrites; alert ids
are deterministic and checked against the alerts topic, so an alert is published once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable

import faust
from faust.types import TP

from streams.alerts import recent_alert_ids
from schemas import DriftAlert
from detectors.stats.registry import statistic_of
from streams.findings import WindowFindings, drift_policy
from streams.online import OnlineWatch
from streams.partition import PartitionProcessor, Received, Start
from streams.checkpoint import PartitionCheckpoint
from schemas.columnar import EventColumns
from streams.decoding import Decoded, decode_message
from streams.end_offsets import EndOffsets
from streams.fatal import die
from streams.kafka_security import faust_credentials
from streams import log_limits
from streams.profiles import ProfileStore
from streams.read_ahead import ReadAhead
from streams.sent_alerts import SentAlerts
from streams.settings import Settings
from streams.topics import MAX_TOPIC_MESSAGE_BYTES, read_compacted
from streams.sinks.influx import InfluxSink
from streams.windowing import ClosedWindow, PartitionWindows

log = logging.getLogger("driftline.worker")

SEEK_RETRY_S = 3.0  # a seek back whose replay has not begun by then is made again
ONLINE_GROUP = 64  # one-event messages are fed to ADWIN in groups of this many (or at each tick)


def _brokers(bootstrap: str) -> list[str]:
    return [f"kafka://{b.strip()}" for b in bootstrap.split(",") if b.strip()]


class WindowRunner:
    """Per-partition windows plus the events held un-acked until their windows are written."""

    def __init__(self, settings: Settings, profiles: ProfileStore, sink: InfluxSink, alerts_topic, dlq_topic,
                 checkpoints_topic):
        self.settings = settings
        self.checkpoints_topic = checkpoints_topic
        self.policy = drift_policy(settings)
        self.watches: dict[int, OnlineWatch] = {}
        self.online_waiting: dict[int, list] = {}  # one-event messages' events not yet fed to ADWIN
        self.sent_alerts = SentAlerts()
        self.profiles = profiles
        self.sink = sink
        self.alerts_topic = alerts_topic
        self.dlq_topic = dlq_topic
        self.processors: dict[int, PartitionProcessor] = {}  # the delivery logic, per partition
        self.seeks: dict[int, tuple[int, float]] = {}  # partition -> (offset sought, when): until the replay begins
        self.held: dict[tuple[int, int], object] = {}  # (partition, offset) -> faust Event held un-acked
        # One close at a time per partition: a checkpoint must never cover a close still being written.
        self.close_locks: dict[int, asyncio.Lock] = {}
        # Bumped when a partition is revoked: messages read ahead before that are not applied.
        self.epochs: dict[int, int] = {}
        self.stream = None
        self.seek = None  # async (partition, offset): the adapter's consumer seek
        self.end_offsets = None  # EndOffsets: the broker's view of where partitions end
        self._look: asyncio.Task | None = None

    def _checkpoint_key(self, partition: int) -> bytes:
        return f"{self.settings.predictions_topic}:{partition}".encode()

    @property
    def partitions(self) -> dict[int, PartitionWindows]:
        return {p: proc.windows for p, proc in self.processors.items()}

    async def processor_for(self, partition: int, offset: int) -> tuple[PartitionProcessor, Start]:
        """The partition's processor at its first message since assignment (see partition.py)."""
        log.info("partition %d: first message at offset %d", partition, offset)
        s = self.settings
        epoch = self.epochs.get(partition, 0)
        saved = (await asyncio.to_thread(read_compacted, s, s.checkpoints_topic)).get(self._checkpoint_key(partition))
        windows = PartitionWindows(s.window_ms, s.lateness_ms, s.idle_grace_ms, self.profiles.get)
        processor, start = PartitionProcessor.start(
            partition, windows, offset, None if saved is None else PartitionCheckpoint.from_bytes(saved))
        if start.save is not None:
            await self._save_checkpoint(partition, epoch, start.save)
            log.info("partition %d starts at offset %d (no checkpoint yet; one saved)", partition, offset)
        if start.resumed is not None:
            log.info("partition %d resumes from checkpoint at offset %d (%d saved closes)", partition,
                     start.resumed.base_offset, len(start.resumed.transitions))
        if start.seek_to is not None:
            log.warning("partition %d: the consumer started at offset %d, past the checkpoint's replay base "
                        "%d: seeking back to %d (%d messages read again)", partition, offset, start.seek_to,
                        start.seek_to, offset - start.seek_to)
            await self.seek(partition, start.seek_to)
            self.seeks[partition] = (start.seek_to, time.monotonic())
        self.processors[partition] = processor
        return processor, start

    async def _save_checkpoint(self, partition: int, epoch: int, checkpoint: PartitionCheckpoint) -> None:
        """Saved and delivered before anything it covers is acknowledged. Not by a worker that has
        lost the partition meanwhile: its new owner's checkpoints must not be overwritten."""
        if self.epochs.get(partition, 0) != epoch:
            return
        delivery = await self.checkpoints_topic.send(key=self._checkpoint_key(partition), value=checkpoint.to_bytes())
        await delivery

    async def handle(self, event, decoded: Decoded, epoch: int, owns_ref: bool) -> None:
        """Apply one decoded message; `epoch` is its partition's epoch when it arrived.

        Acks: faust acks every message after the agent's step. A message that opens a window is
        held with a reference of ours (`incref`), released once its windows are written. A message
        read ahead already carries our reference (`owns_ref`), released here unless held.
        """
        message = event.message
        partition = message.partition
        if self.epochs.get(partition, 0) != epoch:
            return  # its partition was revoked meanwhile: the new owner replays it (never committed)
        processor = self.processors.get(partition)
        if processor is None:
            processor, start = await self.processor_for(partition, message.offset)
            if start.seek_to is not None:  # read before the seek: it comes again after it
                if owns_ref:
                    await self.stream.ack(event)
                return
        valid = decoded.valid
        try:
            received = processor.receive(message.offset, valid, time.time() * 1000)
            if received.applied and self.settings.adwin_delta > 0 and len(valid):
                await self._observe(partition, valid)
        except Exception as exc:  # one message the windows cannot take: to the DLQ, and go on
            log.error("partition %d offset %d: cannot apply the message (%s: %s); sent to the DLQ",
                      partition, message.offset, type(exc).__name__, exc)
            await self._dead_letter(event, message.value or b"", f"unprocessable: {type(exc).__name__}: {exc}")
            received = Received(applied=True)
        if received.replay_begins:
            self.seeks.pop(partition, None)
            log.info("partition %d: replay from offset %d begins (%d messages read before the seek dropped)",
                     partition, message.offset, received.replay_begins - 1)
        if received.lost is not None:
            log.error("partition %d: the checkpoint's replay base %d is no longer in Kafka (retention?); resuming "
                      "at %d: events of offsets %d-%d are lost", partition, received.lost[0], message.offset,
                      *received.lost)
        if received.applied:
            for reject in decoded.rejects:
                await self._dead_letter(event, reject.value, reject.reason)
        await self._ack(partition, received.releasable)
        if received.hold:
            self.held[(partition, message.offset)] = event
            if not owns_ref:
                message.incref()
        elif owns_ref:
            await self.stream.ack(event)
        if received.applied and processor.windows.due_by_watermark():  # idle closes are the timer's
            await self.close_due(partition, processor.windows)

    async def _dead_letter(self, event, value: bytes, reason: str) -> None:
        message = event.message
        await self.dlq_topic.send(key=event.key, value=value, headers=[
            ("reason", reason.encode()),
            ("source_topic", message.topic.encode()),
            ("source_partition", str(message.partition).encode()),
            ("source_offset", str(message.offset).encode()),
        ])

    async def _observe(self, partition: int, valid) -> None:
        """ADWIN on a message's events. One-event messages are fed in groups (ONLINE_GROUP, or at
        the next tick): per event, river's call costs more than the detection itself."""
        if isinstance(valid, EventColumns):
            await self._flush_online(partition)  # ADWIN sees events in partition order
            await self._online_alerts(partition, valid)
            return
        waiting = self.online_waiting.setdefault(partition, [])
        waiting.extend(valid)
        if len(waiting) >= ONLINE_GROUP:
            await self._flush_online(partition)

    async def _flush_online(self, partition: int) -> None:
        waiting = self.online_waiting.get(partition)
        if waiting:
            self.online_waiting[partition] = []
            await self._online_alerts(partition, waiting)

    async def _online_alerts(self, partition: int, batch) -> None:
        """ADWIN detections are published at once, keyed to the window of the detecting event."""
        watch = self.watches.get(partition)
        if watch is None:
            watch = self.watches[partition] = OnlineWatch(self.settings.adwin_delta)
        size = self.settings.window_ms
        for d in watch.observe(batch):
            start = d.timestamp - d.timestamp % size
            alert = DriftAlert.for_window(
                model_id=d.model_id, model_version=d.model_version, window_start=start,
                window_end=start + size, feature=d.stream, statistic="adwin", value=d.estimation,
                threshold=d.delta, major_threshold=math.inf)
            log.info("ADWIN change in %s of model=%s version=%s at event %s", d.stream, d.model_id,
                     d.model_version or "-", d.event_id)
            await self._send_alert(alert)

    async def _send_alert(self, alert: DriftAlert) -> None:
        if alert.alert_id not in self.sent_alerts:
            await self.alerts_topic.send(key=alert.model_id.encode(), value=alert.model_dump_json().encode())
            self.sent_alerts.add(alert.alert_id, alert.window_end_ms)

    async def close_due(self, partition: int, pw: PartitionWindows) -> None:
        if not pw.has_due(time.time() * 1000):  # the common case, checked without the lock
            return
        async with self.close_locks.setdefault(partition, asyncio.Lock()):
            closed = pw.pop_due(time.time() * 1000)
            if closed:
                await self._publish(partition, pw, closed)

    async def _publish(self, partition: int, pw: PartitionWindows, closed: list[ClosedWindow]) -> None:
        epoch = self.epochs.get(partition, 0)
        findings = [WindowFindings(w, self.settings, self.policy) for w in closed]
        await self.sink.write(findings)
        for found in findings:
            for alert in found.alerts:
                await self._send_alert(alert)
            self._log_closed(found)
        # Delivered before the acks and before the next close: a restart resumes from it.
        await self._save_checkpoint(partition, epoch, pw.checkpoint())
        processor = self.processors.get(partition)
        if processor is not None and self.epochs.get(partition, 0) == epoch:
            await self._ack(partition, processor.closed(closed))

    async def _ack(self, partition: int, offsets: Iterable[int]) -> None:
        for offset in offsets:
            event = self.held.pop((partition, offset), None)
            if event is not None:
                await self.stream.ack(event)

    async def tick(self) -> None:
        self._look_at_ends()
        await self._check_seeks()
        for partition in [p for p, waiting in self.online_waiting.items() if waiting]:
            await self._flush_online(partition)
        for partition, pw in list(self.partitions.items()):
            await self.close_due(partition, pw)

    async def _check_seeks(self) -> None:
        """A seek back that has not taken effect after SEEK_RETRY_S is asked for again: seldom, a
        seek made while faust's own rebalance handling repositions the consumer is lost, and the
        partition would wait for its replay for ever."""
        now = time.monotonic()
        for partition, (offset, asked_at) in list(self.seeks.items()):
            if now - asked_at >= SEEK_RETRY_S and partition in self.processors:
                log.warning("partition %d: the seek back to offset %d has not taken effect after %.0f s; seeking again",
                            partition, offset, now - asked_at)
                await self.seek(partition, offset)
                self.seeks[partition] = (offset, now)

    def _look_at_ends(self) -> None:
        """Confirm, from the broker, which partitions have nothing left to read (see idleness in
        windowing.py). One look at a time, in a thread; a failed look confirms nothing."""
        if self.end_offsets is None:
            return
        if self._look is not None:
            if not self._look.done():
                return
            if self._look.exception() is None:
                looked_at, ends = self._look.result()
                for partition, end in ends.items():
                    pw = self.partitions.get(partition)
                    if pw is not None:
                        pw.confirm_end(end, looked_at)
            else:  # the broker did not answer: no partition is known to be idle now
                for pw in self.partitions.values():
                    pw.lose_sight()
        partitions = sorted(self.partitions)
        if partitions:
            looked_at = time.time() * 1000
            self._look = asyncio.ensure_future(asyncio.to_thread(
                lambda: (looked_at, self.end_offsets.read(partitions))))
        else:
            self._look = None

    def forget(self, partitions: Iterable[int]) -> None:
        """Revoked partitions: drop their state; the new owner replays their open windows."""
        gone = set(partitions)
        for p in gone:
            self.epochs[p] = self.epochs.get(p, 0) + 1
            self.processors.pop(p, None)
            self.seeks.pop(p, None)
            self.watches.pop(p, None)
            self.online_waiting.pop(p, None)
        self.held = {k: v for k, v in self.held.items() if k[0] not in gone}

    @staticmethod
    def _log_closed(found: WindowFindings) -> None:
        window, snap = found.window, found.snapshot
        drifting = sorted(f"{v.feature}:{statistic_of(v.metric)}={v.effect:.3f}"
                          for v in found.verdicts.values() if v.drifted)
        worst = max(((f, s["psi"]) for f, s in snap["features"].items() if s["psi"] == s["psi"]),
                    key=lambda fs: fs[1], default=None)
        log.info("window closed model=%s version=%s start=%s count=%d late=%d%s (%s)", window.model_id,
                 window.model_version or "-", time.strftime("%H:%M:%S", time.gmtime(window.start_ms / 1000)),
                 snap["count"], snap["late_count"],
                 (f" max_psi={worst[1]:.3f} ({worst[0]})" if worst else " no profile")
                 + (f" drift: {', '.join(drifting)}" if drifting else ""), window.closed_by)


def build_app(settings: Settings, profiles: ProfileStore, sink: InfluxSink) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=_brokers(settings.bootstrap_servers),
        broker_credentials=faust_credentials(settings),
        datadir=str(settings.worker_data_dir),
        web_enabled=False,
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        topic_disable_leader=True,
        broker_commit_interval=1.0,
        # A restarted worker waits for its dead predecessor to leave the group: keep that short.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        producer_compression_type="lz4",
        producer_max_request_size=MAX_TOPIC_MESSAGE_BYTES + 65536,
        consumer_max_fetch_size=MAX_TOPIC_MESSAGE_BYTES + 65536,
    )
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    predictions = app.topic(settings.predictions_topic, **raw)
    runner = WindowRunner(settings, profiles, sink, app.topic(settings.alerts_topic, **raw),
                          app.topic(settings.dlq_topic, **raw), app.topic(settings.checkpoints_topic, **raw))
    for alert_id, window_end_ms in recent_alert_ids(settings).items():
        runner.sent_alerts.add(alert_id, window_end_ms)
    runner.end_offsets = EndOffsets(settings, settings.predictions_topic)
    app.driftline_runner = runner

    async def seek(partition: int, offset: int) -> None:
        # seek_wait runs in the consumer's own thread and waits for the new position; faust's
        # seek() calls aiokafka from this thread, racing its fetcher (a seek was seen lost).
        await app.consumer.seek_wait({TP(settings.predictions_topic, partition): offset})

    runner.seek = seek

    async def apply(item, decoded: Decoded, queued: bool) -> None:
        event, epoch = item
        await runner.handle(event, decoded, epoch, owns_ref=queued)

    def hold(item) -> None:  # read ahead: not applied when faust acks it after this step
        item[0].message.incref()

    @app.agent(predictions, name="driftline.windows")
    async def process(stream):
        runner.stream = stream
        # faust's Monitor sensor books every message and event in memory for its web page, which
        # the worker does not serve (web_enabled=False): ~10 µs per message, not worth paying.
        if app.monitor in set(app.sensors):
            app.sensors.remove(app.monitor)
        # Batches are decoded in a thread (the native decoder releases the GIL) while the event
        # loop applies the previous message; messages are applied in arrival order.
        try:
            async with ReadAhead(decode_message, apply, hold=hold) as ahead:
                async for _ in stream:  # (stream.events() would add a generator step per message)
                    event = stream.current_event
                    await ahead.put((event, runner.epochs.get(event.message.partition, 0)), event.value)
        except Exception as exc:  # faust would restart the agent in place: exit, a supervisor restarts us
            die("the windows agent", exc)

    @app.task
    async def limit_repeated_logs():  # once faust has set up its log handlers
        log_limits.install()

    @app.timer(interval=0.25)
    async def close_idle_windows():
        try:
            await runner.tick()
        except Exception as exc:
            die("the window timer", exc)

    @app.on_partitions_revoked.connect
    async def on_revoked(app, revoked, **kwargs):
        runner.forget({tp.partition for tp in revoked if tp.topic == settings.predictions_topic})

    return app
