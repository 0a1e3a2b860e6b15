"""`driftline backtest`: what the worker's windows, verdicts and incidents would have been over a
stretch of the predictions topic (or a file of its messages), with the live settings and with
overrides, side by side. It only reads: nothing goes to InfluxDB or the alerts topic.

The stretch is chosen by the messages' Kafka timestamps (`offsets_for_times` on every partition:
from the first message at or after `--from` to the last one before `--to`); windows are then
event time as in the worker (replay.py). The topic is read once and every message, decoded once,
goes to both runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from streams.commands.kafka_errors import reaching_kafka
from streams.commands.replay import TUNABLE, ModelKey, ModelRun, Replay
from streams.commands.times import utc_text
from streams.core.decoding import decode_message
from streams.core.incidents import dedup_key_text
from streams.errors import DriftlineError
from streams.settings import Settings

READ_TIMEOUT_S = 30.0  # no message for this long while some partition is short of its end: give up
KAFKA_TIMEOUT_S = 10.0


@dataclass
class Feed:
    """Each message decoded once and handed to every run, in offset order per partition."""

    replays: list[Replay]
    messages: int = 0
    events: int = 0
    rejected: int = 0  # events and messages the worker would send to the DLQ

    def message(self, partition: int, offset: int, raw: bytes | None) -> None:
        decoded = decode_message(raw)
        self.messages += 1
        self.events += len(decoded.valid)
        self.rejected += len(decoded.rejects)
        failed = False
        for replay in self.replays:
            try:
                replay.add(partition, offset, decoded)
            except Exception:  # what the worker sends to the DLQ as `unprocessable`, and goes on
                failed = True
        self.rejected += failed

    def finish(self, partition: int) -> None:
        for replay in self.replays:
            replay.finish(partition)


@dataclass
class Backtest:
    source: dict
    live: Replay
    candidate: Replay
    overrides: dict
    feed: Feed
    notes: list[str] = field(default_factory=list)


def load_profiles(settings: Settings, files: list[Path]):
    """The reference profiles the windows are judged on: the files given, else the profiles topic
    as it is now (the profile of the time read may have been another)."""
    from pydantic import ValidationError

    from detectors import DetectorError, ReferenceProfile
    from schemas import ProfileMessage
    from streams.kafka.profiles import ProfileStore
    from streams.kafka.topics import read_compacted

    store = ProfileStore(settings)
    if files:
        for path in files:
            try:
                message = ProfileMessage.model_validate_json(path.read_bytes())
                store.put(message.key, ReferenceProfile.from_dict(message.profile))
            except OSError as exc:
                raise DriftlineError(f"--profile {path}: {exc.strerror or exc}") from exc
            except ValidationError as exc:
                raise DriftlineError(f"--profile {path}: not a profile message (profile build -o writes one): "
                                     + "; ".join(e["msg"] for e in exc.errors()[:3])) from exc
            except (ValueError, DetectorError) as exc:
                raise DriftlineError(f"--profile {path}: {' '.join(str(exc).split())[:300]}") from exc
        return store.get
    topic = settings.profiles_topic
    with reaching_kafka(settings, f"reading {topic}"):
        profiles = read_compacted(settings, topic, KAFKA_TIMEOUT_S)
    for key, value in profiles.items():
        store.apply_message(key.decode("utf-8", "replace"), value, topic)
    return store.get


def topic_ranges(settings: Settings, start_ms: int, stop_ms: int) -> dict[int, tuple[int, int]]:
    """partition -> (first offset, end offset) of the messages stamped in [start_ms, stop_ms)."""
    from confluent_kafka import TopicPartition

    from streams.kafka.topics import end_offsets, reader

    topic = settings.predictions_topic
    with reaching_kafka(settings, f"looking up the offsets of {topic}"):
        consumer = reader(settings)
        try:
            offsets = end_offsets(consumer, topic, KAFKA_TIMEOUT_S)
            if not offsets:
                raise DriftlineError(f"topic {topic} does not exist")

            def at(ms: int) -> dict[int, int]:  # -1: no message that late, so the partition's end
                found = consumer.offsets_for_times([TopicPartition(topic, p, ms) for p in offsets],
                                                   timeout=KAFKA_TIMEOUT_S)
                return {tp.partition: tp.offset if tp.offset >= 0 else offsets[tp.partition][1] for tp in found}

            starts, stops = at(start_ms), at(stop_ms)
        finally:
            consumer.close()
    return {p: (starts[p], max(starts[p], stops[p])) for p in sorted(offsets)}


def read_topic(settings: Settings, ranges: dict[int, tuple[int, int]], feed: Feed, advance: Callable[[int], None]):
    from confluent_kafka import TopicPartition

    from streams.kafka.topics import reader

    topic = settings.predictions_topic
    pending = {p: stop for p, (start, stop) in ranges.items() if stop > start}
    for partition in ranges.keys() - pending.keys():
        feed.finish(partition)

    def done(partition: int) -> None:
        pending.pop(partition)
        feed.finish(partition)

    with reaching_kafka(settings, f"reading {topic}"):
        consumer = reader(settings)
        try:
            consumer.assign([TopicPartition(topic, p, ranges[p][0]) for p in pending])
            heard = time.monotonic()
            while pending:
                batch = consumer.consume(500, timeout=0.5)
                for msg in batch:
                    if msg.error() is not None:
                        if msg.error().fatal():
                            raise DriftlineError(str(msg.error()))
                        continue
                    partition, offset = msg.partition(), msg.offset()
                    if offset >= pending.get(partition, -1):
                        continue  # past the range (prefetched)
                    feed.message(partition, offset, msg.value())
                    advance(1)
                    if offset + 1 >= pending[partition]:
                        done(partition)
                if batch:
                    heard = time.monotonic()
                    continue
                # A range may end on transaction markers, which are never delivered: the position says.
                for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
                    if tp.offset >= pending[tp.partition]:
                        done(tp.partition)
                if pending and time.monotonic() - heard > READ_TIMEOUT_S:
                    raise DriftlineError(f"nothing for {READ_TIMEOUT_S:.0f} s, partition(s) {sorted(pending)} "
                                         "short of their end")
        finally:
            consumer.close()


def read_file(path: Path, feed: Feed, advance: Callable[[int], None]) -> None:
    """One wire message a line, as partition 0 (offset = line number); blank lines are skipped."""
    try:
        with path.open("rb") as fh:
            for number, line in enumerate(fh):
                advance(len(line))
                if line.strip():
                    feed.message(0, number, line.rstrip(b"\r\n"))
    except OSError as exc:
        raise DriftlineError(f"--file {path}: {exc.strerror or exc}") from exc
    feed.finish(0)


def run_backtest(live: Settings, candidate: Settings, overrides: dict, *, start_ms: int | None, stop_ms: int,
                 path: Path | None, profile_files: list[Path], progress_console: Console) -> Backtest:
    if (path is None) == (start_ms is None):
        raise DriftlineError("give either --from (and --to) for the predictions topic, or --file")
    if start_ms is not None and stop_ms <= start_ms:
        raise DriftlineError(f"--to ({utc_text(stop_ms)}) must be after --from ({utc_text(start_ms)})")
    profiles = load_profiles(live, profile_files)
    if path is not None:
        source: dict = {"file": str(path)}
        partitions, total = 1, path.stat().st_size if path.is_file() else 0
    else:
        ranges = topic_ranges(live, start_ms, stop_ms)
        source = {"topic": live.predictions_topic, "from_ms": start_ms, "to_ms": stop_ms,
                  "offsets": {str(p): list(r) for p, r in ranges.items()}}
        partitions, total = len(ranges), sum(stop - start for start, stop in ranges.values())
    replays = [Replay(live, profiles, partitions)]
    if overrides:
        replays.append(Replay(candidate, profiles, partitions))
    feed = Feed(replays)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=progress_console, transient=True,
                  disable=not progress_console.is_terminal) as bar:
        task = bar.add_task("reading bytes" if path is not None else "reading messages", total=total)
        advance = lambda n: bar.advance(task, n)  # noqa: E731
        if path is not None:
            read_file(path, feed, advance)
        else:
            read_topic(live, ranges, feed, advance)
    for replay in replays:
        replay.finish_all()
    result = Backtest(source, replays[0], replays[-1], overrides, feed)
    unprofiled = sorted({m for m, v in result.live.models if profiles(m, v) is None})
    if unprofiled:
        result.notes.append(f"no reference profile for {', '.join(unprofiled)}: windows counted, no verdicts")
    return result


def _side(run: ModelRun | None) -> dict:
    run = run or ModelRun()
    incidents = run.incidents
    return {
        "summary": {"windows": len(run.windows), "judged_windows": sum(w.judged for w in run.windows),
                    "events": sum(w.count for w in run.windows), "late_events": sum(w.late_count for w in run.windows),
                    "incidents_opened": len(incidents),
                    "incidents_resolved": sum(i.resolved_ms is not None for i in incidents),
                    "open_at_end": sum(i.resolved_ms is None for i in incidents)},
        "incidents": [{"dedup_key": dedup_key_text(i.dedup_key), "feature": i.dedup_key[2], "family": i.dedup_key[3],
                       "opened_ms": i.opened_ms, "resolved_ms": i.resolved_ms, "severity": i.severity,
                       "windows": i.events[-1].windows_in_incident,
                       "events": [{"alert_id": e.alert_id, "status": e.status, "reason": e.reason,
                                   "window_start_ms": e.window_start_ms, "statistic": e.statistic, "value": e.value,
                                   "threshold": e.threshold, "severity": e.severity} for e in i.events]}
                      for i in incidents],
        "flags": [{"feature": f, "family": fam, **counts} for (f, fam), counts in run.flag_counts().items()],
        "windows": [{"start_ms": w.start_ms, "count": w.count, "late_count": w.late_count, "judged": w.judged,
                     "flags": [{"feature": f.feature, "family": f.family, "statistic": f.statistic,
                                "severity": f.severity, "value": f.value} for f in w.flags]} for w in run.windows],
    }


def _models(result: Backtest, model: str | None) -> list[ModelKey]:
    return sorted(k for k in result.live.models.keys() | result.candidate.models.keys() if model in (None, k[0]))


def to_json(result: Backtest, model: str | None = None) -> dict:
    tunable = lambda s: {name: getattr(s, name) for name in TUNABLE}  # noqa: E731
    return {"source": result.source, "messages": result.feed.messages, "events": result.feed.events,
            "rejected": result.feed.rejected, "overrides": result.overrides, "notes": result.notes,
            "settings": {"live": tunable(result.live.settings), "candidate": tunable(result.candidate.settings)},
            "models": [{"model_id": m, "model_version": v, "live": _side(result.live.models.get((m, v))),
                        "candidate": _side(result.candidate.models.get((m, v)))} for m, v in _models(result, model)]}


def render(result: Backtest, model: str | None = None) -> Group:
    data = to_json(result, model)
    where = (f"{data['source']['topic']} {utc_text(data['source']['from_ms'])} - {utc_text(data['source']['to_ms'])} "
             f"UTC ({len(data['source']['offsets'])} partitions)" if "topic" in data["source"]
             else data["source"]["file"])
    changed = ", ".join(f"{k} {data['settings']['live'][k]} -> {v}" for k, v in result.overrides.items())
    parts: list = [f"read {data['messages']} messages ({data['events']} events, {data['rejected']} rejected) "
                   f"from {where}", f"candidate: {changed}" if changed else "no overrides: the live settings only",
                   *(f"[yellow]note:[/] {n}" for n in result.notes)]
    if not data["models"]:
        parts.append("no windows" + (f" of model {model!r}" if model else ""))
    for entry in data["models"]:
        parts += ["", _summary_table(entry)]
        parts.append(_incident_table(entry) if entry["live"]["incidents"] or entry["candidate"]["incidents"]
                     else "incidents: none in either run")
    return Group(*parts)


def _summary_table(entry: dict) -> Table:
    live, cand = entry["live"], entry["candidate"]
    table = Table(title=f"{entry['model_id']} / {entry['model_version'] or '-'}", title_justify="left")
    for name in ("", "live", "candidate"):
        table.add_column(name, justify="left" if not name else "right")
    rows = [("windows (judged)", lambda s: f"{s['summary']['windows']} ({s['summary']['judged_windows']})"),
            ("events (late)", lambda s: f"{s['summary']['events']} ({s['summary']['late_events']})"),
            ("incidents opened", lambda s: str(s["summary"]["incidents_opened"])),
            ("incidents resolved", lambda s: str(s["summary"]["incidents_resolved"])),
            ("open at the end", lambda s: str(s["summary"]["open_at_end"]))]
    for label, cell in rows:
        table.add_row(label, cell(live), cell(cand))
    flagged = {(f["feature"], f["family"]) for f in live["flags"] + cand["flags"]}
    for feature, family in sorted(flagged):
        def cell(side: dict) -> str:
            found = next((f for f in side["flags"] if (f["feature"], f["family"]) == (feature, family)), None)
            return "0" if found is None else f"{found['minor'] + found['major']} ({found['major']} major)"
        table.add_row(f"flagged windows: {feature} ({family})", cell(live), cell(cand))
    return table


def _incident_table(entry: dict) -> Table:
    table = Table(title="incidents", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("run", "incident", "opened (UTC)", "resolved (UTC)", "windows", "by"):
        table.add_column(name, no_wrap=name != "by")
    for run in ("live", "candidate"):
        for i in entry[run]["incidents"]:
            first = i["events"][0]
            table.add_row(run, f"{i['feature']}/{i['family']}", utc_text(i["opened_ms"])[5:],
                          "open" if i["resolved_ms"] is None else utc_text(i["resolved_ms"])[5:], str(i["windows"]),
                          f"{first['statistic']}={first['value']:.3f} {i['severity']}")
    return table
