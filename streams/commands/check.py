"""`driftline check`: the worker's statistics and verdicts on files, for CI pipelines and audits."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors import build_profile
from detectors.window import ModelWindow
from streams.core.columns import float_column
from streams.errors import DriftlineError
from detectors.stats.registry import statistic_of
from detectors.stats.quality import DEFAULT_QUALITY_THRESHOLDS
from streams.core.findings import WindowFindings, drift_policy
from streams.commands.reference_data import read_columns
from streams.settings import Settings
from streams.core.windowing import ClosedWindow


@dataclass(frozen=True)
class CheckRow:
    window: str
    feature: str
    statistic: str
    value: float | None
    p_value: float | None
    threshold: float
    drift: bool
    severity: str

    def to_dict(self) -> dict:
        return {"window": self.window, "feature": self.feature, "statistic": self.statistic, "value": self.value,
                "p_value": self.p_value, "threshold": self.threshold, "drift": self.drift, "severity": self.severity}


def check_files(reference: Path, current: Path, *, by: str | None, settings: Settings, bins: int = 10,
                exclude: tuple[str, ...] = ()) -> Iterator[CheckRow]:
    skip = set(exclude) | ({by} if by else set())
    profile = build_profile(read_columns(reference, exclude=skip), bins=bins)
    columns = read_columns(current, kinds={name: p.kind for name, p in profile.features.items()})
    if by is not None and by not in columns:
        raise DriftlineError(f"{current}: no column {by!r} to split windows by (columns: {', '.join(columns)})")
    missing = [name for name in profile.features if name not in columns]
    if len(missing) == len(profile.features):
        raise DriftlineError(f"{current}: none of the reference's features ({', '.join(profile.features)}) is there")
    n = len(next(iter(columns.values())))
    labels = columns[by] if by else ["all"] * n
    order: dict[object, list[int]] = {}
    for i, label in enumerate(labels):
        order.setdefault(label, []).append(i)
    policy = drift_policy(settings)
    for label in sorted(order, key=lambda v: (v is None, str(type(v)), v if v is not None else 0)):
        idx = order[label]
        state = ModelWindow(profile)
        batch: dict[str, object] = {}
        errors: dict[str, int] = {}
        for name in profile.features:
            values = [columns[name][i] for i in idx] if name in columns else [None] * len(idx)
            if name in state.numeric_features:
                batch[name], errors[name] = float_column(values)
            else:
                batch[name] = values
        state.update(batch, latencies_ms=np.empty(0), events=len(idx), type_errors=errors)
        found = WindowFindings(ClosedWindow("check", "", 0, 0, state, 0, "file"), settings, policy)
        yield from _rows(str(label), found)


def _rows(window: str, found: WindowFindings) -> Iterator[CheckRow]:
    alerts = {a.feature: a for a in found.alerts}
    for feature, verdict in found.verdicts.items():
        alert = alerts.get(feature)
        if alert is not None:
            yield CheckRow(window, feature, alert.statistic, alert.value, verdict.pvalue, alert.threshold, True,
                           alert.severity)
            continue
        metric = verdict.metric or "psi"
        name = statistic_of(metric)
        value = verdict.effect if verdict.effect is not None else found.snapshot["features"][feature].get("psi")
        value = None if value is None or math.isnan(value) else float(value)
        threshold = found.policy.thresholds.get(metric, (found.settings.psi_threshold,))[0]
        yield CheckRow(window, feature, name, value, verdict.pvalue, threshold, False, "none")
    for q in found.quality:  # data quality, in the same shape: value = the share's rise over the reference's
        yield CheckRow(window, q.feature, q.statistic, q.effect, q.pvalue, DEFAULT_QUALITY_THRESHOLDS[q.statistic][0],
                       q.drifted, q.severity)
