"""Alerts and verdicts of a closed window: PSI alerts as before, calibrated verdicts for the rest."""

import numpy as np

from detectors import build_profile
from detectors.window import ModelWindow
from streams.core.findings import WindowFindings, drift_policy
from streams.settings import Settings
from streams.core.windowing import ClosedWindow


def _findings(shift_a: float, shift_b: float, n: int = 5_000, settings: Settings | None = None) -> WindowFindings:
    rng = np.random.default_rng(4)
    profile = build_profile({"a": list(rng.normal(0, 1, 50_000)), "b": list(rng.normal(0, 1, 50_000)),
                             "c": list(rng.choice(["x", "y"], 50_000))})
    state = ModelWindow(profile)
    state.update({"a": rng.normal(shift_a, 1, n), "b": rng.normal(shift_b, 1, n), "c": list(rng.choice(["x", "y"], n))},
                 latencies_ms=np.ones(n), events=n)
    settings = settings or Settings(_env_file=None)
    return WindowFindings(ClosedWindow("m", "1", 0, 60_000, state, 0, "watermark"), settings, drift_policy(settings))


def test_no_drift_no_alert():
    found = _findings(0.0, 0.0)
    assert found.alerts == [] and not any(v.drifted for v in found.verdicts.values())


def test_large_shift_alerts_on_psi_and_small_shift_on_another_statistic():
    found = _findings(1.0, 0.25)
    alerts = {a.feature: a for a in found.alerts}
    assert set(alerts) == {"a", "b"}
    assert alerts["a"].statistic == "psi" and alerts["a"].value >= 0.25 and alerts["a"].severity == "major"
    # The deciding effect is whichever is furthest past its minor threshold (KS, JS, Wasserstein).
    assert alerts["b"].statistic in ("ks", "js", "wasserstein") and alerts["b"].severity == "minor"
    assert alerts["b"].value >= alerts["b"].threshold
    assert found.snapshot["features"]["b"]["psi"] < 0.2  # PSI alone would have missed it


def test_statistics_are_chosen_by_name():
    found = _findings(0.0, 0.25, settings=Settings(_env_file=None, drift_statistics="psi,chi2"))
    assert found.alerts == []


def test_prediction_distribution_drift_alerts_as_feature_prediction():
    rng = np.random.default_rng(2)
    profile = build_profile({"a": list(rng.normal(0, 1, 20_000))}, prediction=list(rng.beta(2, 5, 20_000)))
    state = ModelWindow(profile)
    state.update({"a": rng.normal(0, 1, 5_000)}, latencies_ms=np.ones(5_000), events=5_000,
                 predictions=rng.beta(5, 2, 5_000))
    settings = Settings(_env_file=None)
    found = WindowFindings(ClosedWindow("m", "1", 0, 60_000, state, 0, "watermark"), settings, drift_policy(settings))
    assert [(a.feature, a.statistic, a.severity) for a in found.alerts] == [("prediction", "psi", "major")]
    assert found.snapshot["prediction"]["ks"] > 0.3


def test_configurable_statistics_are_registered_statistics():
    from detectors.stats import build_registry
    from streams.core.findings import STATISTICS

    assert set(STATISTICS) <= set(build_registry())


def test_every_feature_drift_field_is_declared_by_a_registered_statistic():
    """The registry is the one place a statistic's keys, thresholds and InfluxDB fields live."""
    import numpy as np

    from detectors import build_profile
    from detectors.stats import DEFAULT_THRESHOLDS
    from detectors.stats.registry import window_statistics
    from detectors.window import ModelWindow
    from streams.sinks.influx import window_points

    rng = np.random.default_rng(1)
    state = ModelWindow(build_profile({"x": list(rng.normal(size=2000)), "c": list(rng.choice(["a", "b"], 2000))}))
    state.update({"x": rng.normal(size=500), "c": [str(v) for v in rng.choice(["a", "b"], 500)]}, latencies_ms=np.ones(500),
                 events=500)
    settings = Settings(_env_file=None)
    found = WindowFindings(ClosedWindow("m", "1", 0, 60_000, state, 0, "watermark"), settings, drift_policy(settings))
    lines = [p.to_line_protocol() for p in window_points(found)]
    written = {pair.split("=")[0] for line in lines if line.startswith("feature_drift,")
               for pair in line.split(" ")[1].split(",")}
    declared = {f for spec in window_statistics().values() for f in spec.fields}
    assert written - {"missing_share", "drift", "severity"} == declared, lines
    assert dict(DEFAULT_THRESHOLDS) == {s.effect_key: s.thresholds for s in window_statistics().values() if s.thresholds}


def test_a_high_psi_without_significance_is_no_alert():
    """A window of one row drawn from the reference has a huge PSI and nothing significant."""
    import numpy as np

    from detectors import build_profile
    from detectors.window import ModelWindow
    from streams.core.findings import WindowFindings, drift_policy
    from streams.core.windowing import ClosedWindow
    from streams.settings import Settings

    settings = Settings(_env_file=None)
    window = ModelWindow(build_profile({"x": [float(v) for v in range(1000)]}))
    window.update({"x": np.array([500.0])}, latencies_ms=np.array([1.0]), events=1)
    found = WindowFindings(ClosedWindow("m", "1", 0, 1000, window, 0, "watermark"), settings, drift_policy(settings))
    assert found.snapshot["features"]["x"]["psi"] > 1 and found.alerts == []


def test_a_window_too_small_to_judge_has_statistics_but_no_verdict():
    import numpy as np

    from detectors import build_profile
    from detectors.window import ModelWindow
    from streams.core.findings import WindowFindings, drift_policy
    from streams.core.windowing import ClosedWindow
    from streams.settings import Settings

    settings = Settings(min_window_events=100, _env_file=None)
    window = ModelWindow(build_profile({"x": list(np.random.default_rng(0).normal(size=2000))}))
    window.update({"x": np.full(99, 5.0)}, latencies_ms=np.ones(99), events=99)  # far off, but 99 events
    found = WindowFindings(ClosedWindow("m", "1", 0, 1000, window, 0, "watermark"), settings, drift_policy(settings))
    assert not found.judged and found.alerts == [] and not any(v.drifted for v in found.verdicts.values())
    assert found.snapshot["features"]["x"]["psi"] > 1  # the statistics are still there
