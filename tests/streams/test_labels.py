"""Ground truth on the real stack (#11): predictions over 4 windows spread over the partitions,
labels 1-3 windows late (30 % never, 2 % for unknown event ids, some sent twice), the worker
killed -9 while labels flow. After all labels, every window's `window_performance` equals
scikit-learn's metrics on exactly the joined pairs, coverage, lag and orphans equal the test's
own computation, and each window has one point per field (rewritten, not duplicated)."""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest
from sklearn import metrics as skm

from detectors.performance_profile import build_performance_profile
from tests.streams.stack_data import feature_rows, publish_profile, wait_until

pytestmark = pytest.mark.stack

W = 10_000


def _performance(stack, model, start_s, stop_s):
    rows = stack.flux(f'''
        from(bucket: "{stack.settings.influx_bucket}")
          |> range(start: {start_s}, stop: {stop_s})
          |> filter(fn: (r) => r._measurement == "window_performance" and r.model_id == "{model}")''')
    out: dict[tuple[int, str], dict] = {}  # (window start, model_version tag) -> fields
    points: dict[tuple, int] = {}
    for r in rows:
        key = (int(r["_time"].timestamp() * 1000), r["model_version"])
        out.setdefault(key, {})[r["_field"]] = r["_value"]
        points[(*key, r["_field"])] = points.get((*key, r["_field"]), 0) + 1
    return out, points


def _calibrated_profile(stack, prefix: str, model: str, rng) -> None:
    """A profile that records performance (as `profile build --label-column` does), of a calibrated
    classifier: the join keeps the model's predictions (DRIFTLINE_LABEL_JOIN=auto) and CBPE
    estimates its windows."""
    ref_scores = rng.random(20_000)
    performance = build_performance_profile(list(ref_scores), list((rng.random(20_000) < ref_scores).astype(int)),
                                            task="classification")
    publish_profile(stack, f"{prefix}.profiles", model, performance=performance)


def test_window_performance_equals_scikit_learn_on_the_joined_pairs_through_a_kill(stack, start_worker, worker_env,
                                                                                    figures):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"labels-{prefix}"
    settings = dict(DRIFTLINE_WINDOW_SECONDS="10", DRIFTLINE_ALLOWED_LATENESS_SECONDS="1",
                    DRIFTLINE_IDLE_GRACE_SECONDS="1", DRIFTLINE_ADWIN_DELTA="0", DRIFTLINE_LABEL_WAIT_SECONDS="5",
                    DRIFTLINE_LABEL_JOIN="auto")
    worker = start_worker(**settings)
    rng = np.random.default_rng(21)
    _calibrated_profile(stack, prefix, model, rng)
    base = (int(time.time() * 1000) // W - 60) * W
    n = 8_000
    times = np.sort(rng.integers(base, base + 4 * W, n))
    scores = rng.random(n)
    truth = rng.random(n) < scores
    ids = [f"{model}-{i}" for i in range(n)]
    producer = stack.producer(**{"message.max.bytes": 4_000_000})
    rows = feature_rows(rng, n)
    events = [{"event_id": ids[i], "model_id": model, "model_version": "v1", "timestamp": int(times[i]),
               "features": rows[i], "prediction": float(scores[i]), "latency_ms": 2.0} for i in range(n)]
    for i in range(0, n, 400):  # random keys: a model's events spread over every partition
        producer.produce(f"{prefix}.predictions", key=rng.bytes(8), value=orjson.dumps({"events": events[i:i + 400]}))
    assert producer.flush(10) == 0

    labelled = rng.random(n) >= 0.3
    label_times = times + rng.integers(W, 3 * W, n)
    labels = [{"event_id": ids[i], "model_id": model, "label": bool(truth[i]) if i % 2 else int(truth[i]),
               "timestamp": int(label_times[i])} for i in np.flatnonzero(labelled)]
    unknown = [{"event_id": f"ghost-{k}", "model_id": model, "label": True, "timestamp": base + W + k}
               for k in range(int(0.02 * n))]
    twice = labels[:100]  # the same label again: first label wins, counted as a duplicate
    stream = labels + unknown + twice
    order = rng.permutation(len(stream))
    batches = [[stream[k] for k in order[i:i + 250]] for i in range(0, len(stream), 250)]
    for b, batch in enumerate(batches):
        producer.produce(f"{prefix}.labels", key=rng.bytes(8), value=orjson.dumps({"labels": batch}))
        if b == len(batches) // 2:
            assert producer.flush(10) == 0
            time.sleep(1.0)
            worker.kill9()  # while labels flow
            worker = start_worker(**settings)
    assert producer.flush(10) == 0
    # Later predictions move the join partitions' watermarks past the unknown labels' wait bound.
    late = [{"event_id": f"{model}-tick-{i}", "model_id": model, "model_version": "v1",
             "timestamp": base + 20 * W + i, "features": rows[i], "prediction": 0.5} for i in range(400)]
    producer.produce(f"{prefix}.predictions", key=b"tick", value=orjson.dumps({"events": late}))
    assert producer.flush(10) == 0

    start_s, stop_s = base // 1000 - 1, base // 1000 + 10 * W // 1000
    expected_labelled = int(labelled.sum())

    def complete():
        found, _ = _performance(stack, model, start_s, stop_s)
        return sum(f.get("labeled_count", 0) for f in found.values()) == expected_labelled and \
            sum(f.get("orphan_labels", 0) for f in found.values()) == len(unknown) and found
    found = wait_until(complete, 180, interval_s=1.0)
    got, points = _performance(stack, model, start_s, stop_s)
    per_window = {w: (got.get((base + w * W, "v1"), {}).get("labeled_count"),
                      int((labelled & (times >= base + w * W) & (times < base + (w + 1) * W)).sum())) for w in range(4)}
    assert found, (f"window_performance incomplete: labelled {sum(f.get('labeled_count', 0) for f in got.values())} "
                   f"of {expected_labelled}, orphans {sum(f.get('orphan_labels', 0) for f in got.values())} of "
                   f"{len(unknown)}; per window (found, expected) {per_window}")
    gaps = []
    for w in range(4):
        start = base + w * W
        in_window = (times >= start) & (times < start + W)
        mask = labelled & in_window
        fields = got[(start, "v1")]
        y, s = truth[mask], scores[mask]
        predicted = s >= 0.5
        assert fields["labeled_count"] == mask.sum()
        assert fields["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted), abs=1e-9)
        assert fields["precision"] == pytest.approx(skm.precision_score(y, predicted), abs=1e-9)
        assert fields["recall"] == pytest.approx(skm.recall_score(y, predicted), abs=1e-9)
        assert fields["f1"] == pytest.approx(skm.f1_score(y, predicted), abs=1e-9)
        assert fields["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
        assert fields["label_coverage"] == pytest.approx(mask.sum() / in_window.sum(), abs=1e-12)
        # Calibrated scores, no concept drift: CBPE's estimate tracks the realised accuracy.
        gaps.append(fields["estimation_gap"])
        assert abs(fields["estimated_accuracy"] - fields["accuracy"]) < 0.03
        lags = (label_times - times)[mask] / 1000
        assert fields["label_lag_p50_s"] == pytest.approx(np.percentile(lags, 50), rel=1e-9)
        assert fields["label_lag_p95_s"] == pytest.approx(np.percentile(lags, 95), rel=1e-9)
    # Duplicates count in their prediction's window; orphans (no prediction, labels without a
    # version) in the window of the label's time under the `unversioned` tag.
    assert sum(f.get("duplicate_labels", 0) for f in got.values()) == len(twice)
    assert got[(base + W, "unversioned")]["orphan_labels"] == len(unknown)
    assert set(points.values()) == {1}, "a window's field written as two points"
    figures(f"labels on the real stack (kill -9 while they flowed): {expected_labelled} labels joined to "
            f"{n} predictions over 4 windows, metrics = scikit-learn's (1e-9), {len(unknown)} orphans, "
            f"{len(twice)} duplicates; one point per window and field; CBPE estimated accuracy within "
            f"{max(map(abs, gaps)):.3f} of the realised")


def test_an_accuracy_drop_shows_in_metrics_error_stream_and_alert_within_a_window(stack, start_worker, worker_env,
                                                                                   figures):
    prefix = worker_env["DRIFTLINE_TOPIC_PREFIX"]
    model = f"drop-{prefix}"
    start_worker(DRIFTLINE_WINDOW_SECONDS="10", DRIFTLINE_ALLOWED_LATENESS_SECONDS="1",
                 DRIFTLINE_IDLE_GRACE_SECONDS="1", DRIFTLINE_ADWIN_DELTA="0", DRIFTLINE_LABEL_JOIN="auto")
    rng = np.random.default_rng(33)
    _calibrated_profile(stack, prefix, model, rng)
    base = (int(time.time() * 1000) // W - 60) * W
    n, windows, drop_window = 18_000, 6, 3
    times = np.sort(rng.integers(base, base + windows * W, n))
    scores = rng.random(n)
    truth = rng.random(n) < scores  # calibrated ...
    flipped = (times >= base + drop_window * W) & (rng.random(n) < 0.3)  # ... until 30 % of outcomes flip
    truth = np.where(flipped, ~truth, truth)
    rows = feature_rows(rng, n)
    producer = stack.producer(**{"message.max.bytes": 4_000_000})
    events = [{"event_id": f"{model}-{i}", "model_id": model, "model_version": "v1", "timestamp": int(times[i]),
               "features": rows[i], "prediction": float(scores[i])} for i in range(n)]
    for i in range(0, n, 500):
        producer.produce(f"{prefix}.predictions", key=rng.bytes(8), value=orjson.dumps({"events": events[i:i + 500]}))
    labels = [{"event_id": f"{model}-{i}", "model_id": model, "label": int(truth[i]),
               "timestamp": int(times[i]) + 5_000} for i in range(n)]
    for i in range(0, n, 500):  # in the order the outcomes became known
        producer.produce(f"{prefix}.labels", key=rng.bytes(8), value=orjson.dumps({"labels": labels[i:i + 500]}))
    tick = [{"event_id": f"{model}-tick-{i}", "model_id": model, "model_version": "v1",
             "timestamp": base + 20 * W + i, "features": rows[i], "prediction": 0.5} for i in range(400)]
    producer.produce(f"{prefix}.predictions", key=b"tick", value=orjson.dumps({"events": tick}))
    assert producer.flush(10) == 0
    start_s, stop_s = base // 1000 - 1, base // 1000 + windows * W // 1000

    def complete():
        got, _ = _performance(stack, model, start_s, stop_s)
        done = sum(f.get("labeled_count", 0) for f in got.values()) == n
        return done and got
    got = wait_until(complete, 180, interval_s=1.0)
    assert got, "labels not all joined"
    alerts = [orjson.loads(m.value()) for m in stack.read_topic(f"{prefix}.alerts", expect=3, timeout_s=60,
                                                                 settle_s=5)]
    by_statistic: dict[str, list[int]] = {}
    for a in alerts:
        by_statistic.setdefault(a["statistic"], []).append((a["window_start_ms"] - base) // W)
    accuracy = [got[(base + w * W, "v1")]["accuracy"] for w in range(windows)]
    estimated = [got[(base + w * W, "v1")]["estimated_accuracy"] for w in range(windows)]
    figures(f"accuracy drop at window {drop_window} on the real stack: realised "
            f"{', '.join(f'{a:.3f}' for a in accuracy)}; estimated {', '.join(f'{e:.3f}' for e in estimated)}; "
            f"alerts {sorted((k, sorted(v)) for k, v in by_statistic.items())}")
    for w in range(drop_window):  # no concept drift: CBPE tracks the realised accuracy
        assert abs(estimated[w] - accuracy[w]) < 0.03
    assert min(accuracy[drop_window:]) < max(accuracy[:drop_window]) - 0.1
    assert by_statistic.get("accuracy_drop") and min(by_statistic["accuracy_drop"]) == drop_window
    found = sorted(by_statistic.get("ddm", []) + by_statistic.get("adwin_error", []))
    assert found and drop_window <= found[0] <= drop_window + 1  # the error stream, within a window
    assert not any(w < drop_window for ws in by_statistic.values() for w in ws)  # nothing before the drop
