"""Throughput of the driftline worker against a bare aiokafka consumer and a bare faust agent.

    .venv/bin/python -m bench.throughput [--events N] [--modes single,batch500]

Events per mode, unless --events says: 1M single-event messages, 10M events in batches. A worker
has a fixed start (assignment, first fetches: about 2 s) and reads up to 4096 messages ahead (2M
events in batches of 500), so a batch run of 1M events measures mostly those: 147k events/s on
envelopes, against 287k over 10M.

For each fill mode (single-event messages, batches of 500 events) a fresh set of topics
`bench-<random>-<mode>.*` is filled with synthetic prediction events (30 features, 4 models, each on a partition of its own, so every partition carries events;
10 windows of 60 s an hour in the past, then one sentinel per model 10 minutes later so that the
watermark closes every real window). Then, each from the beginning of the topic:

  (a) aiokafka: AIOKafkaConsumer.getmany(max_records=20000) + orjson.loads of every value;
  (b) faust:    a minimal faust agent (subprocess) that only orjson-decodes every value;
  (c) worker:   `driftline worker` (subprocess), run until InfluxDB's sum of window_stats.count
                over the run's models equals the number of real events.

All three are timed from their first message to their last one processed; for (c) that is from
its "first message" log line to its last "window closed" line (logged once the window's points
are written; InfluxDB's count confirms it). Topics, consumer groups,
temp dirs and the run's InfluxDB points are deleted at the end; every subprocess is stopped.
Needs the local stack (deploy/stack.sh up); deploy/run-bench.sh does all of it.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import procs
from bench.events import EventPool, Timeline
from bench.fill import Filled, create_topics, delete_run, fill, publish_profiles
from bench.measure import BenchError, InfluxCounts, Measured, bare_aiokafka, bare_faust, worker
from driftline.monitor import BATCH_EVENTS
from streams.settings import Settings

SDK_ENVELOPE = f"envelope{BATCH_EVENTS}"
MODES = {"single": 1, "batch500": 500, "spread500": 500, "envelope500": 500, SDK_ENVELOPE: BATCH_EVENTS}
# envelope500: the events of batch500 in columnar envelopes; envelope1500: as the producer SDK
# sends them by default (driftline.monitor.BATCH_EVENTS events per envelope).
ENVELOPES = {"envelope500", SDK_ENVELOPE}
# spread500: batches of 500 as in batch500, but each model's messages spread over all 4 partitions
# (as with random keys), read by one worker (c) and by two workers in one group (d).
SPREAD = {"spread500"}
LOAD = {"start": os.getloadavg()[0]}


@dataclass
class ModeResult:
    filled: Filled
    runs: dict[str, Measured | None] = field(default_factory=dict)  # "a", "b", "c", "d"
    errors: list[str] = field(default_factory=list)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=None,
                   help="real events per fill mode (default: 1,000,000 single-event messages, 10,000,000 in batches)")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of: {', '.join(MODES)}")
    p.add_argument("--workers", type=int, default=2, help="workers of run (d) in the spread mode (default 2)")
    p.add_argument("--no-profiles", action="store_true",
                   help="do not publish reference profiles (the worker then skips all per-feature work)")
    p.add_argument("--consumers", default="abcde",
                   help="which of (a), (b), (c), (d: several workers, spread mode only), (e: (c) with the label "
                        "join on for every model) to run (default: abcde)")
    p.add_argument("--keep-logs", action="store_true", help="keep the temp dir with the subprocess logs")
    p.add_argument("--timeout", type=float, default=0.0,
                   help="seconds each consumer may take (default: scaled with --events)")
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in args.modes if m not in MODES]
    if bad or not args.modes:
        p.error(f"unknown mode(s) {bad}; choose from {list(MODES)}")
    if not args.consumers or set(args.consumers) - set("abcde"):
        p.error("--consumers takes letters of 'abcde'")
    if args.events is not None and args.events < 1000:
        p.error("--events must be at least 1000")
    return args


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"nproc {nproc}{f' ({cpu})' if cpu else ''}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def mode_events(mode: str, args) -> int:
    return args.events or (1_000_000 if MODES[mode] == 1 else 10_000_000)


def run_mode(mode: str, args, tag: str, settings: Settings, workdir: Path, console: Console,
             cleanup: list) -> ModeResult:
    prefix = f"{tag}-{mode}"
    events = mode_events(mode, args)
    models = [f"{prefix}-m{i}" for i in range(4)]  # one per partition
    bootstrap = settings.bootstrap_servers
    console.rule(f"[bold]{mode}[/]: {events:,} events in messages of {MODES[mode]}, topics {prefix}.*")
    topic = create_topics(bootstrap, prefix)
    pool = EventPool(prefix, models)
    timeline = Timeline(events, int(time.time() * 1000))
    counts = InfluxCounts(settings, models, timeline)
    cleanup.append(counts)
    if not args.no_profiles:
        publish_profiles(bootstrap, prefix, models, pool)
    filled = Filled(mode, prefix, topic, models, MODES[mode], events)

    def do_fill() -> None:
        fill(bootstrap, filled, pool, timeline, console, spread=mode in SPREAD, envelopes=mode in ENVELOPES)
        console.print(f"filled {filled.messages:,} messages ({filled.sentinels} sentinels) in {filled.seconds:.1f} s "
                      f"({filled.events / filled.seconds:,.0f} events/s produced); models on partitions "
                      + ("0-3, each model on all 4" if mode in SPREAD else f"{sorted(filled.partitions.values())} of 4"))

    if mode not in SPREAD:
        do_fill()
    # The spread mode runs (d) alone: its workers first settle into one group (a worker that
    # starts sooner would read everything alone), then the topic is filled (faster than they read).
    result = ModeResult(filled)
    timeout = args.timeout or max(120.0, events / 1000)
    # The worker does far more per event than (a) and (b): it may take 200 events/s.
    worker_timeout = args.timeout or max(300.0, events / 200)
    steps = {
        "a": lambda: bare_aiokafka(bootstrap, filled, f"{prefix}-aiokafka", timeout, console),
        "b": lambda: bare_faust(bootstrap, filled, f"{prefix}-faust", workdir, timeout, console),
        "c": lambda: worker(filled, counts, timeline, f"{prefix}-worker", workdir, worker_timeout, console),
        "d": lambda: worker(filled, counts, timeline, f"{prefix}-workers", workdir, worker_timeout, console,
                            processes=args.workers, label=f"(d) {args.workers} workers", fill=do_fill),
        # (e): (c) with every model's predictions kept for labels: what the label join costs.
        "e": lambda: (counts.delete(), worker(filled, counts, timeline, f"{prefix}-join", workdir, worker_timeout,
                                              console, label="(e) worker, label join on",
                                              extra_env={"DRIFTLINE_LABEL_JOIN": "all"}))[1],
    }
    names = {"a": "(a) bare aiokafka", "b": "(b) bare faust agent", "c": "(c) driftline worker",
             "d": f"(d) {args.workers} driftline workers", "e": "(e) driftline worker, label join on for every model"}
    for key, step in steps.items():
        if key not in args.consumers or (key == "d") != (mode in SPREAD) or (key == "e" and mode in SPREAD) \
                or (mode in ENVELOPES and key in "de"):
            continue  # the spread mode runs (d) only; batch500's (c) is its reference
        try:
            measured = step()
        except BenchError as exc:
            result.runs[key] = None
            result.errors.append(f"{names[key]}: {exc}")
            console.print(f"[bold red]{names[key]} failed:[/] {exc}")
            continue
        result.runs[key] = measured
        note = f"  [yellow]{measured.note}[/]" if measured.note else ""
        merge = f" (two-stage cost {measured.merge_s / measured.seconds:.1%} of it)" if key in "cde" else ""
        steady = "" if measured.steady is None else \
            f"; steady [bold]{measured.steady:,.0f}[/] events/s (from 10 % to 90 % of the events applied)"
        console.print(f"{names[key]}: {measured.events:,} events in {measured.seconds:.2f} s = "
                      f"[bold]{measured.rate:,.0f}[/] events/s{merge}{steady}{note}")
    return result


def _rate(m: Measured | None) -> str:
    return "failed" if m is None else f"{m.rate:,.0f}"


def _ratio(x: Measured | None, y: Measured | None) -> str:
    return "–" if x is None or y is None else f"{x.rate / y.rate:.2f}"


def report(results: list[ModeResult], console: Console) -> None:
    header = ["fill mode", "events", "messages", "(a) aiokafka ev/s", "(b) faust ev/s", "(c) worker ev/s",
              "(d) workers ev/s", "c/a", "c/b", "two-stage cost", "steady ev/s (c or d)"]
    rows = []
    for r in results:
        a, b, c, d = (r.runs.get(k) for k in "abcd")
        rates = [_rate(r.runs[k]) if k in r.runs else "–" for k in "abcd"]  # "–": not asked for
        run = c or d
        cost = "–" if run is None else f"{run.merge_s / run.seconds:.1%}"
        steady = "–" if run is None or run.steady is None else f"{run.steady:,.0f}"
        rows.append([r.filled.mode, f"{r.filled.events:,}", f"{r.filled.messages:,}", *rates, _ratio(c, a), _ratio(c, b), cost, steady])
    table = Table(title="Throughput, events of 30 features")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for r in results:
        c, e = r.runs.get("c"), r.runs.get("e")
        if c is not None and e is not None:
            console.print(f"{r.filled.mode}: with the label join on for every model (e) the worker runs at "
                          f"{e.rate / c.rate:.2f} × (c) (the join off): "
                          f"{e.rate:,.0f} vs {c.rate:,.0f} events/s.")
    one = next((r.runs.get("c") for r in results if r.filled.mode == "batch500"), None)
    spread = next((r.runs.get("d") for r in results if r.filled.mode == "spread500"), None)
    envelope = next((r.runs.get("c") for r in results if r.filled.mode == SDK_ENVELOPE), None)
    if one is not None and envelope is not None:
        console.print(f"the SDK's columnar envelopes ({SDK_ENVELOPE} (c)): {envelope.rate:,.0f} events/s = "
                      f"{envelope.rate / one.rate:.2f} × the same events as {{\"events\": [...]}} batches (batch500 (c)).")
    if one is not None and spread is not None:
        console.print(f"each model over 4 partitions read by (d) several workers: {spread.rate:,.0f} events/s = "
                      f"{spread.rate / one.rate:.2f} × one worker with each model on one partition (batch500 (c)).")
    console.print("two-stage cost: the time spent building, reading and merging partials (logged with each final "
                  "window), as a share of the run. steady: the worker's events/s from 10 % to 90 % of the events "
                  "applied (its driftline_events_total, sampled every 0.1 s): what it sustains once started.")
    console.print(f"machine: {machine()}; Kafka and InfluxDB on the same machine; "
                  f"load average (1 min) {LOAD['start']:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.")
    console.print("Figures vary about ±40% from run to run (shared machine, page cache, GC); compare ratios.")
    md = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    md += ["| " + " | ".join(row) + " |" for row in rows]
    console.print("\nMarkdown (for the README):\n", style="bold")
    print("\n".join(md))
    print(f"\nmachine: {machine()}. Figures vary about ±40% run to run.\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 110)
    settings = Settings()
    tag = f"bench-{secrets.token_hex(3)}"
    workdir = Path(tempfile.mkdtemp(prefix=f"driftline-{tag}-"))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    per_mode = ", ".join(f"{m} {mode_events(m, args):,}" for m in args.modes)
    console.print(f"driftline throughput bench [bold]{tag}[/]: events per mode {per_mode}; modes "
                  f"{', '.join(args.modes)}; Kafka {settings.bootstrap_servers}, InfluxDB {settings.influx_url}")
    console.print(f"machine: {machine()}")
    started = time.perf_counter()
    results: list[ModeResult] = []
    cleanup: list[InfluxCounts] = []
    failed = interrupted = False
    try:
        for mode in args.modes:
            results.append(run_mode(mode, args, tag, settings, workdir, console, cleanup))
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or SIGTERM (see above)
        interrupted = True
        console.print("[yellow]interrupted[/]")
    except Exception:
        failed = True
        console.print_exception()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        procs.stop_all()
        groups = [f"{tag}-{m}-{s}" for m in args.modes for s in ("aiokafka", "faust", "worker", "workers")]
        try:
            problems = delete_run(settings.bootstrap_servers, tag, groups)
        except Exception as exc:
            problems = [str(exc)]
        for counts in cleanup:
            try:
                counts.delete()
            except Exception as exc:
                problems.append(f"InfluxDB points: {exc}")
            counts.close()
        for problem in problems:
            console.print(f"[yellow]cleanup: {problem}[/]")
        console.print(f"deleted the topics {tag}-*" + (" (with problems, see above)" if problems else ""))
    failed = failed or any(r.errors for r in results)
    if results:
        report(results, console)
    for r in results:
        for e in r.errors:
            console.print(f"[red]{r.filled.mode} {e.splitlines()[0]}[/]")
    for data in workdir.glob("*.data"):  # faust data dirs
        shutil.rmtree(data, ignore_errors=True)
    if (failed or args.keep_logs) and not interrupted:
        console.print(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    console.print(f"bench took {time.perf_counter() - started:.0f} s")
    return 130 if interrupted else 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
