"""The label join's own figures (part of `make bench`): predictions and labels per second through
one join partition on its real store (RocksDB on local disk), stored every 100 messages as the
join agent's flush does, and the bytes each pending prediction takes on disk and in memory.

    .venv/bin/python -m bench.join [--predictions 1000000] [--labels 200000]

A million predictions (batches of 125 as stage one sends them to a join partition), then labels
for a fifth of them (batches of 250, as the labels agent routes them); each message applied and
committed with its offset, as the join agent does. No Kafka: this is the join's own cost.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from detectors.performance import WindowPerformance
from schemas.join import PendingPredictions, RoutedLabel, RoutedLabels, encode_join_message
from streams.worker.join_stage import JoinRunner


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.join", description=__doc__.split("\n\n")[0])
    p.add_argument("--predictions", type=int, default=1_000_000)
    p.add_argument("--labels", type=int, default=200_000)
    args = p.parse_args(argv)
    rng = np.random.default_rng(1)
    work = Path(tempfile.mkdtemp(prefix="driftline-join-bench-"))
    try:
        runner = JoinRunner(0, work / "join-0", window_ms=60_000, horizon_ms=7 * 86_400_000, wait_ms=600_000,
                            new_window=lambda m, v: WindowPerformance("binary"))
        base = 1_700_000_000_000
        messages = []
        for start in range(0, args.predictions, 125):
            n = min(125, args.predictions - start)
            times = base + (start + np.arange(n)) * 2
            messages.append(encode_join_message(PendingPredictions.of(
                "fraud", "3", [f"req-{start + i:012d}" for i in range(n)], times, rng.random(n).tolist())))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        began = time.perf_counter()
        for offset, raw in enumerate(messages):  # stored every 100 messages, as the agent's flush does
            runner.apply(offset, raw)
            if offset % 100 == 99:
                runner.commit(offset + 1)
        runner.commit(len(messages))
        pending_s = time.perf_counter() - began
        runner.state.db.flush()
        disk = runner.files.bytes_on_disk()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        chosen = rng.choice(args.predictions, size=args.labels, replace=False)
        label_messages = []
        for i in range(0, args.labels, 250):
            batch = chosen[i:i + 250]
            label_messages.append(encode_join_message(RoutedLabels(source_partition=0, source_offset=i // 250, labels=[
                RoutedLabel(event_id=f"req-{k:012d}", model_id="fraud", label=bool(rng.random() < 0.5),
                            time_ms=base + int(k) * 2 + 3_600_000) for k in batch])))
        began = time.perf_counter()
        offset = len(messages)
        for raw in label_messages:
            runner.apply(offset, raw)
            offset += 1
            if offset % 100 == 0:
                runner.commit(offset)
                runner.take_partials()  # what the flush sends
        runner.commit(offset)
        labels_s = time.perf_counter() - began
        joined = sum(w.labeled_count for w in runner.core.states.values())
        runner.close()
        print(f"join partition (pending index on numpy chunks, the rest on RocksDB): {args.predictions:,} predictions in {pending_s:.1f} s = "
              f"{args.predictions / pending_s:,.0f} predictions/s; {args.labels:,} labels in {labels_s:.1f} s = "
              f"{args.labels / labels_s:,.0f} labels/s ({joined:,} joined)")
        print(f"bytes per pending prediction: {disk / args.predictions:.0f} on disk (numpy chunk files), "
              f"{rss * 1024 / args.predictions:.0f} of resident memory growth")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
