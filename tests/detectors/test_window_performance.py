"""Window performance from joined labels: merged partition states equal scikit-learn's metrics
on exactly the joined pairs (1e-9), and lag and coverage equal numpy's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from detectors.errors import DetectorError
from detectors.performance import WindowPerformance


def _merged(task, predictions, labels, lags, **kw) -> WindowPerformance:
    parts = []
    for idx in np.array_split(np.random.default_rng(0).permutation(len(labels)), 3):
        part = WindowPerformance(task, **kw)
        part.update([predictions[i] for i in idx], [labels[i] for i in idx], lags_ms=[lags[i] for i in idx])
        parts.append(WindowPerformance.from_state(part.to_state()))
    return parts[0].merge(parts[1]).merge(parts[2])


def test_binary_metrics_equal_scikit_learns_on_the_joined_pairs() -> None:
    rng = np.random.default_rng(1)
    scores = rng.random(3_000)
    y = (rng.random(3_000) < scores).astype(int)
    labels = [bool(v) if i % 3 == 0 else (int(v) if i % 3 == 1 else str(v)) for i, v in enumerate(y)]
    lags = rng.integers(1_000, 600_000, 3_000)
    snap = _merged("binary", list(scores), labels, list(lags)).snapshot(predicted=4_000)
    predicted = (scores >= 0.5).astype(int)
    expected = {"accuracy": skm.accuracy_score(y, predicted), "precision": skm.precision_score(y, predicted),
                "recall": skm.recall_score(y, predicted), "f1": skm.f1_score(y, predicted),
                "auc": skm.roc_auc_score(y, scores)}
    for key, value in expected.items():
        assert snap[key] == pytest.approx(value, abs=1e-9), key
    assert snap["gini"] == pytest.approx(2 * expected["auc"] - 1, abs=1e-9)
    assert snap["labeled_count"] == 3_000 and snap["label_coverage"] == 0.75
    assert snap["label_lag_p50_s"] == pytest.approx(np.percentile(lags, 50) / 1000, rel=1e-12)
    assert snap["label_lag_p95_s"] == pytest.approx(np.percentile(lags, 95) / 1000, rel=1e-12)


def test_multiclass_and_regression_equal_scikit_learns() -> None:
    rng = np.random.default_rng(2)
    truth = rng.choice(["a", "b", "c"], 2_000)
    guess = np.where(rng.random(2_000) < 0.7, truth, rng.choice(["a", "b", "c"], 2_000))
    snap = _merged("multiclass", list(guess), list(truth), [1] * 2_000).snapshot(predicted=2_000)
    assert snap["accuracy"] == pytest.approx(skm.accuracy_score(truth, guess), abs=1e-9)
    assert snap["macro_f1"] == pytest.approx(skm.f1_score(truth, guess, average="macro"), abs=1e-9)
    target = rng.normal(10, 3, 2_000)
    pred = target + rng.normal(0, 1, 2_000)
    snap = _merged("regression", list(pred), list(target), [1] * 2_000).snapshot(predicted=2_000)
    assert snap["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(target, pred)), abs=1e-9)
    assert snap["mae"] == pytest.approx(skm.mean_absolute_error(target, pred), abs=1e-9)
    assert snap["r2"] == pytest.approx(skm.r2_score(target, pred), abs=1e-9)


def test_orphans_duplicates_and_bad_input() -> None:
    w = WindowPerformance("binary")
    w.add_orphans(3)
    w.add_duplicates(2)
    snap = w.snapshot(predicted=0)
    assert (snap["orphan_labels"], snap["duplicate_labels"], snap["labeled_count"]) == (3, 2, 0)
    with pytest.raises(DetectorError, match="task"):
        WindowPerformance("ranking")
    with pytest.raises(DetectorError, match="same length"):
        w.update([0.1], [True, False], lags_ms=[1])
    with pytest.raises(DetectorError):
        w.merge(WindowPerformance("binary", threshold=0.3))


def test_the_reference_performance_profile_round_trips_inside_the_profile() -> None:
    from detectors.performance_profile import build_performance_profile
    from detectors.profile import ReferenceProfile, build_profile

    rng = np.random.default_rng(4)
    scores = rng.random(1_000)
    labels = ["yes" if s else "no" for s in rng.random(1_000) < scores]
    perf = build_performance_profile(list(scores), labels, task="classification", positive="yes")
    assert perf.task == "binary" and perf.calibrator is not None and perf.rows == 1_000
    assert perf.baseline["auc"] == pytest.approx(skm.roc_auc_score([v == "yes" for v in labels], scores), abs=1e-9)
    profile = build_profile({"x": list(rng.normal(size=1_000))})
    import dataclasses
    with_perf = dataclasses.replace(profile, performance=perf)
    assert ReferenceProfile.from_dict(with_perf.to_dict()) == with_perf
    regression = build_performance_profile([1.0, 2.0, 3.5], [1.0, 2.5, 3.0], task="regression")
    assert regression.calibrator is None and regression.baseline["mae"] == pytest.approx(1 / 3)
    with pytest.raises(DetectorError, match="no reference row"):
        build_performance_profile([None], [1], task="classification")
    with pytest.raises(DetectorError, match="task"):
        build_performance_profile([0.5], [1], task="ranking")


def test_a_window_with_a_calibrated_profile_estimates_and_merges_its_estimate() -> None:
    import dataclasses

    from detectors.performance_profile import build_performance_profile
    from detectors.profile import build_profile
    from detectors.window import ModelWindow

    rng = np.random.default_rng(8)
    ref_scores = rng.random(5_000)
    perf = build_performance_profile(list(ref_scores), list((rng.random(5_000) < ref_scores).astype(int)),
                                     task="classification")
    profile = dataclasses.replace(build_profile({"x": list(rng.normal(size=1_000))}), performance=perf)
    scores = rng.random(3_000)
    whole = ModelWindow(profile)
    parts = [ModelWindow(profile) for _ in range(2)]
    for i, chunk in enumerate(np.array_split(scores, 2)):
        for w in (whole, parts[i]):
            w.update({"x": rng.normal(size=chunk.size)}, latencies_ms=np.ones(chunk.size), events=chunk.size,
                     scores=chunk)
    merged = ModelWindow.from_state(parts[0].to_state(), profile).merge(ModelWindow.from_state(parts[1].to_state(),
                                                                                               profile))
    assert whole.estimates and merged.snapshot()["estimated"] == pytest.approx(whole.snapshot()["estimated"])
    assert abs(whole.snapshot()["estimated"]["estimated_accuracy"] - 0.75) < 0.03  # uniform calibrated scores
