"""The faust worker: its stages wired to Kafka, and nothing else.

Stage one (partition_stage.py) reads `<prefix>.predictions`, keeps each partition's windows and
hands every closed window on as a partial; stage two (merge_stage.py) reads the partials, merges
them per (model, version, window) in a changelog-backed Table, and writes final windows to
InfluxDB and their alerts to `<prefix>.alerts`. The label join (#11): stage one also sends what
the join keeps of each prediction to `<app_id>.join` (pending_feed.py), the labels agent routes
`<prefix>.labels` there (label_router.py), and the join agent (join_stage.py) joins them per join
partition and sends each window's performance to stage two (performance_book.py). The delivery rules live in faust-free classes
(partition.py, merger.py); this module only carries out what they return.
"""

from __future__ import annotations

import logging

import faust
from faust.types import TP

from streams.worker import log_limits
from streams.core.checkpoint import KafkaCheckpoints
from streams.core.decoding import Decoded, decode_message
from streams.worker.end_offsets import EndOffsets
from streams.errors import DriftlineError
from streams.worker.fatal import die
from streams.kafka.security import faust_credentials
from streams.worker.join_stage import JoinStage
from streams.worker.label_router import LabelRouter
from streams.worker.merge_stage import MergeRunner
from streams.worker.metrics import WorkerMetrics
from streams.worker.metrics_server import serve as serve_metrics
from streams.worker.offset_check import OffsetCheck
from streams.worker.join_producer import JoinProducer
from streams.worker.pending_feed import PendingFeed
from streams.worker.producer_flush import deliver_everything
from streams.worker.partition_stage import WindowRunner
from streams.kafka.profiles import ProfileStore
from streams.worker.read_ahead import ReadAhead
from streams.settings import Settings
from streams.sinks.influx import InfluxSink
from streams.kafka.topics import FETCH_BYTES_PER_PARTITION, MAX_TOPIC_MESSAGE_BYTES, partition_count


def _brokers(bootstrap: str) -> list[str]:
    return [f"kafka://{b.strip()}" for b in bootstrap.split(",") if b.strip()]


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
        # aiokafka makes a send wait while its partition's batch is full and not yet drained (one
        # request in flight per broker): with faust's 16 KB batches, stage one's join messages
        # (a few KB per predictions message and join partition) stalled it for a round trip
        # every few messages (0.4 × the worker's rate). 1 MB batches rarely fill.
        producer_max_batch_size=1024 * 1024,
        consumer_max_fetch_size=FETCH_BYTES_PER_PARTITION,
        # Measured on 10M events in SDK envelopes: 4096 messages read ahead 287k events/s and 0.87 GB
        # RSS, 512 messages 219k and 0.46 GB (the windows then wait while the consumer fetches).
        stream_buffer_maxsize=settings.read_ahead_messages,
    )
    logging.getLogger("driftline.trace").setLevel(logging.INFO if settings.trace_delivery else logging.WARNING)
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    predictions = app.topic(settings.predictions_topic, **raw)
    predictions_partitions = partition_count(settings, settings.predictions_topic)
    merge_partitions = partition_count(settings, settings.partials_topic)
    if partition_count(settings, settings.merge_changelog_topic) != merge_partitions:
        raise DriftlineError(f"{settings.merge_changelog_topic} must have as many partitions as "
                             f"{settings.partials_topic} ({merge_partitions}): recreate both (see the README)")
    partials = app.topic(settings.partials_topic, partitions=merge_partitions, **raw)
    runner = WindowRunner(settings, profiles, partials, app.topic(settings.dlq_topic, **raw),
                          KafkaCheckpoints(settings, app.topic(settings.checkpoints_topic, **raw)),
                          predictions_partitions=predictions_partitions, partials_partitions=merge_partitions)
    runner.end_offsets = EndOffsets(settings, settings.predictions_topic)
    join_topic = app.topic(settings.join_topic, **raw)
    if settings.label_join != "off":
        def wanted(model_id: str, model_version: str) -> bool:
            profile = profiles.get(model_id, model_version)
            return settings.label_join == "all" or getattr(profile, "performance", None) is not None

        runner.pending = PendingFeed(JoinProducer(settings, settings.join_topic),
                                     partition_count(settings, settings.join_topic), settings.window_ms,
                                     wanted)
    # Keys and values are JSON text (faust's json codec on the changelog, which faust names
    # settings.merge_changelog_topic and reads back with the same codec when it recovers).
    table = app.Table("merge", key_type=str, value_type=str, partitions=merge_partitions)
    merge = MergeRunner(settings, predictions_partitions, sink, app.topic(settings.alerts_topic, **raw), table)
    metrics = WorkerMetrics(settings.metrics_max_models)
    runner.metrics = merge.metrics = sink.metrics = metrics
    app.driftline_metrics = metrics
    runner.topic_watermark = lambda: merge.topic_watermark_ms
    runner.topic_progress = lambda: merge.topic_progress_ms
    app.driftline_runner, app.driftline_merge = runner, merge

    async def seek(partition: int, offset: int) -> None:
        # seek_wait runs in the consumer's own thread and waits for the new position; faust's
        # seek() calls aiokafka from this thread, racing its fetcher (a seek was seen lost).
        await app.consumer.seek_wait({TP(settings.predictions_topic, partition): offset})

    runner.seek = seek

    async def apply(item, decoded: Decoded, queued: bool) -> None:
        event, epoch = item
        await runner.handle(event, decoded, epoch, owns_ref=queued)

    def decode(raw: bytes | None) -> Decoded:
        decoded = decode_message(raw)
        if runner.pending is not None and len(decoded.valid):  # the join's keys, beside the decoding
            decoded.pending = runner.pending.rows(decoded.valid)
        return decoded

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
            async with ReadAhead(decode, apply, hold=hold) as ahead:
                async for _ in stream:  # (stream.events() would add a generator step per message)
                    event = stream.current_event
                    await ahead.put((event, runner.epochs.get(event.message.partition, 0)), event.value)
        except Exception as exc:  # faust would restart the agent in place: exit, a supervisor restarts us
            die("the windows agent", exc)

    partials_check = _offset_check(app, settings, settings.partials_topic, "merge partition")

    @app.agent(partials, name="driftline.merge")
    async def merge_partials(stream):
        try:
            async for value in stream:  # in the stream's step: table writes need its current event
                event = stream.current_event
                if not await partials_check.admit(stream, event):
                    continue
                await merge.handle(event.message.partition, value, event.message.offset)
                # Table records, points and alerts are delivered before faust acks the message.
                await deliver_everything(app.producer)
        except Exception as exc:
            die("the merge agent", exc)

    joins = _wire_label_join(app, settings, partials, join_topic, profiles, raw) \
        if settings.label_join != "off" else None

    @app.task
    async def limit_repeated_logs():  # once faust has set up its log handlers
        log_limits.install()
        app.driftline_metrics_server = serve_metrics(metrics, settings.metrics_address)

    @app.timer(interval=0.25)
    async def close_idle_windows():
        try:
            await runner.tick()
        except Exception as exc:
            die("the window timer", exc)

    @app.on_partitions_revoked.connect
    async def on_revoked(app, revoked, **kwargs):
        runner.forget({tp.partition for tp in revoked if tp.topic == settings.predictions_topic})
        if joins is not None:
            joins.forget({tp.partition for tp in revoked if tp.topic == settings.join_topic})
        merge.forget({tp.partition for tp in revoked if tp.topic == settings.partials_topic})
        partials_check.forget({tp.partition for tp in revoked if tp.topic == settings.partials_topic})

    @app.on_partitions_assigned.connect
    async def on_assigned(app, assigned, **kwargs):
        runner.assign({tp.partition for tp in assigned if tp.topic == settings.predictions_topic})
        merge.assigned()

    return app


def _wire_label_join(app: faust.App, settings: Settings, partials, join_topic, profiles, raw) -> JoinStage:
    """The labels agent, the join agent and its timer (#11): only when the join is on, so a worker
    without it subscribes to no more than the predictions and partials."""
    joins = JoinStage(settings, partials, profiles, EndOffsets(settings, settings.join_topic))
    router = LabelRouter(join_topic, app.topic(settings.labels_dlq_topic, **raw),
                         partition_count(settings, settings.join_topic))

    labels_check = _offset_check(app, settings, settings.labels_topic, "labels partition")

    @app.agent(app.topic(settings.labels_topic, **raw), name="driftline.labels")
    async def route_labels(stream):
        try:
            async for value in stream:
                if not await labels_check.admit(stream, stream.current_event):
                    continue
                message = stream.current_event.message
                await router.handle(stream.current_event.key, value, message.topic, message.partition, message.offset)
                await deliver_everything(app.producer)  # routed before faust acks (and commits) the label
        except Exception as exc:
            die("the labels agent", exc)

    @app.agent(join_topic, name="driftline.join")
    async def join_labels(stream):
        try:
            async for value in stream:
                message = stream.current_event.message
                back = await joins.handle(message.partition, message.offset, value)
                if back is not None:
                    await app.consumer.seek_wait({TP(settings.join_topic, message.partition): back})
        except Exception as exc:
            die("the join agent", exc)

    @app.timer(interval=1.0)
    async def send_performance():
        try:
            await joins.flush()
        except Exception as exc:
            die("the join timer", exc)

    @app.on_partitions_revoked.connect
    async def on_labels_revoked(app, revoked, **kwargs):
        labels_check.forget({tp.partition for tp in revoked if tp.topic == settings.labels_topic})

    return joins


def _offset_check(app: faust.App, settings: Settings, topic: str, what: str) -> OffsetCheck:
    async def seek(partition: int, offset: int) -> None:
        await app.consumer.seek_wait({TP(topic, partition): offset})

    return OffsetCheck(topic, settings.app_id, EndOffsets(settings, topic), seek, what)
