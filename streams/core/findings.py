"""What a closed window says: its statistics, the calibrated drift verdicts, the alerts to raise."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from detectors.stats import DEFAULT_THRESHOLDS, DriftPolicy, FeatureVerdict
from detectors.stats.quality import DEFAULT_QUALITY_THRESHOLDS, QualityVerdict, quality_verdicts
from detectors.stats.registry import statistic_of, window_statistics
from schemas import DriftAlert
from streams.settings import Settings
from streams.core.feature_bins import BinShare, feature_bins
from streams.core.incidents import Signal
from streams.core.windowing import ClosedWindow

# Statistic name (as in settings and alerts) -> its spec: keys, thresholds, InfluxDB fields.
STATISTICS = window_statistics()


# The feature name alerts use for the prediction's own distribution.
PREDICTION = "prediction"


def drift_policy(settings: Settings) -> DriftPolicy:
    """The policy over the configured statistics (DRIFTLINE_DRIFT_STATISTICS)."""
    names = settings.statistic_names
    effects = {STATISTICS[n].effect_key for n in names} - {None}
    thresholds = {k: v for k, v in DEFAULT_THRESHOLDS.items() if k in effects}
    # PSI is always computed (the contract's `psi` field); its thresholds are the settings'.
    thresholds["psi"] = (settings.psi_threshold, max(settings.psi_threshold, settings.psi_major_threshold))
    return DriftPolicy(alpha=settings.drift_alpha, thresholds=dict(sorted(
        thresholds.items(), key=lambda kv: kv[0] != "psi")))


@dataclass
class WindowFindings:
    window: ClosedWindow
    settings: Settings
    policy: DriftPolicy

    @cached_property
    def snapshot(self) -> dict:
        return self.window.state.snapshot()

    @property
    def judged(self) -> bool:
        """Whether the window has enough events to judge (DRIFTLINE_MIN_WINDOW_EVENTS): below it
        its statistics are written but it raises no verdict and no alert."""
        return self.snapshot["count"] >= self.settings.min_window_events

    @cached_property
    def verdicts(self) -> dict[str, FeatureVerdict]:
        verdicts = self.policy.evaluate(self.snapshot["features"])
        if self.judged:
            return verdicts
        return {f: FeatureVerdict(f, False, "none", v.metric, v.effect, v.pvalue, v.qvalue) for f, v in verdicts.items()}

    @cached_property
    def quality(self) -> list[QualityVerdict]:
        """Data-quality verdicts against the profile (detectors/stats/quality.py); none when the
        window is too small to judge or has no profile."""
        profile = self.window.state.profile
        if profile is None or not self.judged:
            return []
        return quality_verdicts(self.snapshot["features"], dict(profile.features), alpha=self.policy.alpha)

    @cached_property
    def quality_alerts(self) -> list[DriftAlert]:
        """One per feature and quality statistic that fired; `value` is the rise of the share over
        the reference's, `threshold` the minor rise."""
        w = self.window
        return [DriftAlert.for_window(model_id=w.model_id, model_version=w.model_version, window_start=w.start_ms,
                                      window_end=w.end_ms, feature=v.feature, statistic=v.statistic, value=v.effect,
                                      threshold=DEFAULT_QUALITY_THRESHOLDS[v.statistic][0],
                                      major_threshold=DEFAULT_QUALITY_THRESHOLDS[v.statistic][1],
                                      severity=v.severity)
                for v in self.quality if v.drifted]

    @cached_property
    def bins(self) -> dict[str, list[BinShare]]:
        """Each feature's share of its profile bins next to the reference's (feature_bins.py);
        empty without a profile, and for a feature with no present value in the window."""
        profile = self.window.state.profile
        if profile is None:
            return {}
        return {name: found for name, fsnap in self.snapshot["features"].items()
                if (found := feature_bins(profile.features[name], fsnap["bin_counts"]))}

    @cached_property
    def prediction_verdict(self) -> FeatureVerdict | None:
        """The prediction's own distribution, judged alone (its own BH family of one)."""
        prediction = self.snapshot.get("prediction")
        if not prediction or not self.judged:
            return None
        return self.policy.evaluate({PREDICTION: prediction})[PREDICTION]

    @cached_property
    def alerts(self) -> list[DriftAlert]:
        """One alert per drifting feature (and the prediction): the effect that decided, PSI first
        when PSI itself is significantly above DRIFTLINE_PSI_THRESHOLD (policy.py)."""
        w = self.window
        found = [v for v in self.verdicts.values() if v.drifted]
        if self.prediction_verdict is not None and self.prediction_verdict.drifted:
            found.append(self.prediction_verdict)
        out = []
        for verdict in found:
            minor, major = self.policy.thresholds[verdict.metric]
            out.append(DriftAlert.for_window(
                model_id=w.model_id, model_version=w.model_version, window_start=w.start_ms, window_end=w.end_ms,
                feature=verdict.feature, statistic=statistic_of(verdict.metric), value=verdict.effect,
                threshold=minor, major_threshold=major, severity=verdict.severity))
        return out


def incident_inputs(found: WindowFindings, settings: Settings) -> tuple[list[Signal], dict[tuple[str, str], float]]:
    """What an IncidentTracker is fed for a final window (the merge stage, and the backtest's
    replay): the firing verdicts, and each statistic's current value (what an open incident
    clears on; NaN means no value)."""
    snap = found.snapshot
    signals = [Signal(a.feature, "drift", a.statistic, a.value, a.threshold, a.severity) for a in found.alerts]
    signals += [Signal(a.feature, a.statistic, a.statistic, a.value, a.threshold, a.severity)
                for a in found.quality_alerts]
    values: dict[tuple[str, str], float] = {}
    for feature, stats in snap["features"].items():
        for name in ["psi", *settings.statistic_names]:
            key = STATISTICS[name].effect_key
            if key in stats and stats[key] == stats[key]:
                values[(feature, name)] = float(stats[key])
    for verdict in found.quality:  # a quality incident clears on the share's rise
        values[(verdict.feature, verdict.statistic)] = verdict.effect
    prediction = snap.get("prediction")
    if prediction and prediction["psi"] == prediction["psi"]:
        values[(PREDICTION, "psi")] = float(prediction["psi"])
    return signals, values
