"""Every query of the provisioned Grafana dashboard (panels, annotations, variables), run against
the real influxd on what a real worker wrote, with Grafana's variables substituted as Grafana 11
would (tests/deploy/grafana.py): each one runs without error and returns rows, and every field the
worker wrote for the test's models is drawn by some panel."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np
import orjson
import pytest

from detectors.performance_profile import build_performance_profile
from tests.deploy import grafana
from tests.streams.stack_data import feature_rows, publish_profile, wait_until

pytestmark = pytest.mark.stack

W = 10_000
WINDOWS = 4
SHIFTED, FLIPPED = 1, 3  # the window whose features drift, the window whose outcomes flip
# Written by the worker but not drawn on purpose: a bin's raw count (its share is) and its lower
# edge (in the bin's label).
NOT_DRAWN = {("feature_bins", "count"), ("feature_bins", "lower")}


def _classifier_events(model: str, rng, base: int) -> tuple[list[dict], np.ndarray, np.ndarray]:
    n = 1_500
    times = np.concatenate([np.sort(rng.integers(base + w * W, base + (w + 1) * W, n)) for w in range(WINDOWS)])
    scores = rng.random(len(times))
    truth = rng.random(len(times)) < scores  # calibrated, so CBPE's estimate holds ...
    flipped = (times >= base + FLIPPED * W) & (times < base + (FLIPPED + 1) * W) & (rng.random(len(times)) < 0.3)
    truth = np.where(flipped, ~truth, truth)  # ... until outcomes flip: an accuracy drop and a gap
    events = []
    for w in range(WINDOWS):
        rows = feature_rows(rng, n, shift=1.0 if w == SHIFTED else 0.0)
        if w == SHIFTED:  # and data-quality verdicts: unseen categories, strings where numbers belong
            for i, row in enumerate(rows):
                if i % 8 == 0:
                    row["f_cat"] = "w"
                if i % 10 == 0:
                    row["f_num_b"] = "n/a"
        for i, row in enumerate(rows):
            k = w * n + i
            events.append({"event_id": f"{model}-{k}", "model_id": model, "model_version": "v1",
                           "timestamp": int(times[k]), "features": row, "prediction": float(scores[k]),
                           "latency_ms": float(rng.gamma(2.0, 5.0))})
    return events, truth, times


def _produce(producer, topic: str, rng, items: list[dict], key: str, size: int = 500) -> None:
    for i in range(0, len(items), size):
        producer.produce(topic, key=rng.bytes(8), value=orjson.dumps({key: items[i:i + size]}))


def _performance(stack, model: str, start_s: int, stop_s: int, field: str) -> float:
    rows = stack.flux(f'''
        from(bucket: "{stack.settings.influx_bucket}")
          |> range(start: {start_s}, stop: {stop_s})
          |> filter(fn: (r) => r._measurement == "window_performance" and r.model_id == "{model}"
                               and r._field == "{field}")''')
    return sum(r["_value"] for r in rows)


def _run(stack, flux: str) -> list[dict[str, str]]:
    s = stack.settings
    return grafana.run(s.influx_url, s.influx_org, s.influx_token.get_secret_value(), flux)


def _written(stack, models: list[str], start_s: int, stop_s: int) -> dict[str, set[str]]:
    """measurement -> fields, of every point of these models (what the worker wrote)."""
    pattern = "|".join(models)
    rows = stack.flux(f'''
        from(bucket: "{stack.settings.influx_bucket}")
          |> range(start: {start_s}, stop: {stop_s})
          |> filter(fn: (r) => r.model_id =~ /^({pattern})$/)
          |> keep(columns: ["_measurement", "_field"])
          |> distinct(column: "_field")''')
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["_measurement"], set()).add(r["_value"])
    return out


def test_every_dashboard_query_runs_on_the_worker_output_and_returns_rows(stack, start_worker, worker_env, figures):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    classifier, regressor = f"grafana-clf-{prefix}", f"grafana-reg-{prefix}"
    start_worker(DRIFTLINE_WINDOW_SECONDS=str(W // 1000), DRIFTLINE_ALLOWED_LATENESS_SECONDS="1",
                 DRIFTLINE_IDLE_GRACE_SECONDS="1", DRIFTLINE_ADWIN_DELTA="0", DRIFTLINE_LABEL_WAIT_SECONDS="5",
                 DRIFTLINE_LABEL_JOIN="auto")
    rng = np.random.default_rng(1212)
    reference = rng.random(20_000)
    publish_profile(stack, f"{prefix}.profiles", classifier, with_prediction=True,
                    performance=build_performance_profile(list(reference), list((rng.random(20_000) < reference)
                                                                                 .astype(int)), task="classification"))
    ref_truth = rng.normal(0, 1, 5_000)
    publish_profile(stack, f"{prefix}.profiles", regressor,
                    performance=build_performance_profile(list(ref_truth + rng.normal(0, 0.3, 5_000)), list(ref_truth),
                                                          task="regression"))
    time.sleep(1.0)  # the worker follows the profiles topic

    base = (int(time.time() * 1000) // W - 60) * W  # ten minutes ago: a replay, windows close as events pass
    events, truth, times = _classifier_events(classifier, rng, base)
    n_reg = 1_000
    reg_truth = rng.normal(0, 1, n_reg)
    reg_times = np.sort(rng.integers(base, base + 2 * W, n_reg))
    reg_rows = feature_rows(rng, n_reg)
    reg_events = [{"event_id": f"{regressor}-{i}", "model_id": regressor, "model_version": "v1",
                   "timestamp": int(reg_times[i]), "features": reg_rows[i],
                   "prediction": float(reg_truth[i] + rng.normal(0, 0.3)), "latency_ms": 3.0} for i in range(n_reg)]
    producer = stack.producer(**{"message.max.bytes": 4_000_000})
    _produce(producer, f"{prefix}.predictions", rng, events + reg_events, "events")

    labelled = rng.random(len(events)) >= 0.2
    labels = [{"event_id": events[i]["event_id"], "model_id": classifier, "label": int(truth[i]),
               "timestamp": int(times[i]) + int(rng.integers(W, 2 * W))} for i in np.flatnonzero(labelled)]
    orphans = [{"event_id": f"ghost-{k}", "model_id": classifier, "label": 1, "timestamp": base + W + k}
               for k in range(20)]
    duplicates = labels[:30]
    reg_labels = [{"event_id": f"{regressor}-{i}", "model_id": regressor, "label": float(reg_truth[i]),
                   "timestamp": int(reg_times[i]) + 5_000} for i in range(n_reg)]
    _produce(producer, f"{prefix}.labels", rng, labels + orphans + duplicates + reg_labels, "labels")
    # Later predictions move the join partitions' watermarks past the orphans' wait.
    tick = [{"event_id": f"{m}-tick-{i}", "model_id": m, "model_version": "v1", "timestamp": base + 20 * W + i,
             "features": reg_rows[i], "prediction": 0.5} for m in (classifier, regressor) for i in range(200)]
    producer.produce(f"{prefix}.predictions", key=b"tick", value=orjson.dumps({"events": tick}))
    assert producer.flush(10) == 0

    start_s, stop_s = base // 1000 - 60, base // 1000 + 30 * W // 1000

    def complete():
        return (_performance(stack, classifier, start_s, stop_s, "labeled_count") == labelled.sum()
                and _performance(stack, classifier, start_s, stop_s, "orphan_labels") == len(orphans)
                and _performance(stack, regressor, start_s, stop_s, "labeled_count") == n_reg)
    assert wait_until(complete, 180, interval_s=1.0), "the worker did not write every window's performance"

    dashboard = grafana.load()
    all_values = {v["name"]: v.get("allValue") for v in dashboard["templating"]["list"]}
    # What an operator picks: both test models (a multi-value selection, so `(a|b)`), every version
    # and feature; a repeated row gets one feature at a time, as Grafana's repeat does.
    selection = {"bucket": stack.settings.influx_bucket, "model_id": [classifier, regressor],
                 "model_version": grafana.ALL, "feature": grafana.ALL}
    written = _written(stack, [classifier, regressor], start_s, stop_s)
    bins_written = "feature_bins" in written
    now = datetime.now(timezone.utc)
    ranges = {"the test's windows": (datetime.fromtimestamp(start_s, timezone.utc),
                                     datetime.fromtimestamp(stop_s, timezone.utc)),
              "last 24 hours": (now - timedelta(hours=24), now)}
    ran, empty_bins, failures = 0, [], []
    for range_name, (t0, t1) in ranges.items():
        for query in grafana.queries(dashboard):
            for repeated in (["f_num_a", "f_cat"] if query.repeat else [None]):
                values = {**selection, **({query.repeat: repeated} if repeated else {})}
                flux = grafana.macros(grafana.template(query.flux, values, all_values), start=t0, stop=t1,
                                      interval=grafana.interval_ms(t0, t1, query.width, grafana.min_interval_ms()),
                                      bucket=stack.settings.influx_bucket, org=stack.settings.influx_org)
                label = f"{query.kind} {query.title!r}" + (f" ({repeated})" if repeated else "") + f", {range_name}"
                assert "${" not in flux and "v.timeRange" not in flux and "v.windowPeriod" not in flux, label
                try:
                    rows = _run(stack, flux)
                except grafana.FluxError as exc:
                    failures.append(f"{label}: {exc}")
                    continue
                ran += 1
                if rows:
                    continue
                if "feature_bins" in grafana.measurements_named(flux) and not bins_written:
                    empty_bins.append(label)  # the measurement is not written by this worker yet
                else:
                    failures.append(f"{label}: no rows\n{flux}")
    assert not failures, "\n\n".join(failures)

    variables = {q.title: q for q in grafana.queries(dashboard) if q.kind == "variable"}
    for name, expected in (("model_id", {classifier, regressor}), ("model_version", {"v1"}),
                           ("feature", {"f_num_a", "f_num_b", "f_num_c", "f_cat"})):
        flux = grafana.template(variables[name].flux, selection, all_values)
        found = {r["_value"] for r in _run(stack, flux)}
        assert expected <= found, (name, expected - found)

    # Every measurement and field the worker wrote for these models has a panel that draws it.
    for measurement, fields in written.items():
        undrawn = sorted(f for f in fields if (measurement, f) not in NOT_DRAWN
                         and not grafana.covers(dashboard, measurement, f))
        assert not undrawn, f"{measurement}: the worker wrote {undrawn}, no panel draws them"
    assert {"window_stats", "feature_drift", "data_quality", "prediction_drift", "window_performance"} <= set(written)
    figures(f"Grafana dashboard on the real influxd: {ran} queries (panels, annotations, variables; 2 time ranges, "
            f"Grafana's substitutions) ran without error and returned rows; measurements written and drawn: "
            f"{', '.join(sorted(written))}"
            + (f"; feature_bins not written by this worker, its {len(empty_bins)} queries ran empty" if empty_bins
               else ""))
