"""What a closed window says: its statistics, the calibrated drift verdicts, the alerts to raise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from detectors.stats import DEFAULT_THRESHOLDS, DriftPolicy, FeatureVerdict
from detectors.stats.quality import DEFAULT_QUALITY_THRESHOLDS, QualityVerdict, quality_verdicts
from detectors.stats.registry import statistic_of, window_statistics
from schemas import DriftAlert
from streams.settings import Settings
from streams.core.windowing import ClosedWindow

# Statistic name (as in settings and alerts) -> its spec: keys, thresholds, InfluxDB fields.
STATISTICS = window_statistics()


# The feature name alerts use for the prediction's own distribution.
PREDICTION = "prediction"


def drift_policy(settings: Settings) -> DriftPolicy:
    """The policy over the configured statistics (DRIFTLINE_DRIFT_STATISTICS)."""
    names = settings.statistic_names
    effects = {STATISTICS[n].effect_key for n in names} - {None}
    pvalues = tuple(STATISTICS[n].pvalue_key for n in names if STATISTICS[n].pvalue_key is not None)
    thresholds = {k: v for k, v in DEFAULT_THRESHOLDS.items() if k in effects}
    thresholds["psi"] = (DEFAULT_THRESHOLDS["psi"][0], settings.psi_major_threshold)
    return DriftPolicy(alpha=settings.drift_alpha, thresholds=thresholds, pvalue_keys=pvalues)


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
                                      major_threshold=DEFAULT_QUALITY_THRESHOLDS[v.statistic][1])
                for v in self.quality if v.drifted]

    @cached_property
    def alerts(self) -> list[DriftAlert]:
        """One alert per drifting feature: PSI at or above its threshold (statistic "psi") where
        the feature's test is significant too (BH across the window's features, like every
        verdict: a window of one row can have any PSI), else a drift verdict of the policy
        (statistic = the effect that decided it)."""
        w, s = self.window, self.settings
        out = []
        if not self.judged:
            return out
        for feature, snap in self.snapshot["features"].items():
            value, statistic, threshold, major = snap["psi"], "psi", s.psi_threshold, s.psi_major_threshold
            verdict = self.verdicts.get(feature)
            significant = verdict is None or verdict.qvalue is None or verdict.qvalue <= self.policy.alpha
            if math.isnan(value) or value < threshold or not significant:
                verdict = self.verdicts.get(feature)
                if verdict is None or not verdict.drifted or verdict.metric is None:
                    continue
                minor, major = self.policy.thresholds[verdict.metric]
                value, statistic, threshold = verdict.effect, statistic_of(verdict.metric), minor
            out.append(DriftAlert.for_window(
                model_id=w.model_id, model_version=w.model_version, window_start=w.start_ms, window_end=w.end_ms,
                feature=feature, statistic=statistic, value=value, threshold=threshold, major_threshold=major))
        prediction = self.snapshot.get("prediction")
        p_value = None if not prediction else prediction.get("ks_p", prediction.get("chi2_p"))
        significant = p_value is None or p_value != p_value or p_value <= self.policy.alpha
        if prediction and not math.isnan(prediction["psi"]) and prediction["psi"] >= s.psi_threshold and significant:
            out.append(DriftAlert.for_window(
                model_id=w.model_id, model_version=w.model_version, window_start=w.start_ms, window_end=w.end_ms,
                feature=PREDICTION, statistic="psi", value=prediction["psi"], threshold=s.psi_threshold,
                major_threshold=s.psi_major_threshold))
        return out
