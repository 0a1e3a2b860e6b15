"""One join partition of the label join: the join topic's messages in, the cumulative realised
performance of every (model, version, window) it touched out. Faust-free; the adapter
(streams/worker/join_stage.py) stores its state with the input offset, atomically, and sends
`take_partials()` to the merge stage, which merges the join partitions' copies of a window.

A window's state here is cumulative (every label of it this partition joined so far) and sent
again whenever it changes, replacing its copy downstream: replays after a crash are idempotent.
Routed labels carry their source (labels partition, offset); a message at or below the highest
source offset already applied is a replay of the router's and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from detectors.performance import WindowPerformance
from schemas.join import JoinProgress, PendingPredictions, RoutedLabels
from schemas.partials import OnlineChange, PerformancePartial
from streams.core.error_watch import ErrorWatch
from streams.core.label_join import Duplicate, Joined, Label, LabelJoin, Orphan, PendingPrediction

WindowKey = tuple[str, str, int]  # model id, model version, window start (ms)


def infer_task(prediction: PendingPrediction, label: object) -> str:
    """The task of a model without a performance profile, from its first joined pair."""
    if prediction.predicted is not None:
        return "multiclass"
    if isinstance(label, bool) or label in (0, 1) or str(label).lower() in ("true", "false", "0", "1"):
        return "binary" if 0.0 <= prediction.score <= 1.0 else "regression"
    return "regression"


@dataclass
class JoinPartition:
    partition: int
    join: LabelJoin
    window_ms: int
    # (model, version) -> a fresh WindowPerformance for it, or None to infer the task from its labels
    new_window: Callable[[str, str], WindowPerformance | None] = lambda model, version: None
    states: dict[WindowKey, WindowPerformance] = field(default_factory=dict)
    dirty: set[WindowKey] = field(default_factory=set)
    applied: dict[int, int] = field(default_factory=dict)  # labels partition -> highest offset applied
    progress: dict[int, int] = field(default_factory=dict)  # predictions partition -> closed until
    predictions_partitions: int = 0  # as the progress messages say
    errors: ErrorWatch | None = None  # concept drift on the error stream (error_watch.py)
    changes: list[OnlineChange] = field(default_factory=list)  # detections not yet sent

    def __post_init__(self) -> None:
        if self.errors is None:
            self.errors = ErrorWatch(self.window_ms)

    def handle(self, message: PendingPredictions | RoutedLabels | JoinProgress) -> None:
        if isinstance(message, JoinProgress):
            if message.closed_until_ms > self.progress.get(message.partition, -(2**62)):
                self.progress[message.partition] = message.closed_until_ms
            self.predictions_partitions = message.partitions
            if len(self.progress) >= self.predictions_partitions:
                self._results(self.join.settle(min(self.progress.values())))
            return
        if isinstance(message, PendingPredictions):
            if not len(message.keys):
                return
            horizon_start = self.join.watermark_ms - self.join.horizon_ms
            self._results(self.join.advance(int(message.event_times_ms.max())))
            keys, times, scores, classes = message.keys, message.event_times_ms, message.scores, message.classes
            live = times >= horizon_start  # a replay of predictions long expired is not kept again
            if not live.all():
                keys, times, scores = keys[live], times[live], scores[live]
                classes = None if classes is None else [c for c, keep in zip(classes, live.tolist()) if keep]
            self._results(self.join.add_predictions(message.model_id, message.model_version, keys, times, scores,
                                                    classes))
            self._expire()
            return
        if message.source_offset <= self.applied.get(message.source_partition, -1):
            return
        self.applied[message.source_partition] = message.source_offset
        labels = [Label(r.event_id, r.model_id, r.label, r.time_ms, r.model_version) for r in message.labels]
        self._results(self.join.add_labels(labels))

    def _state(self, key: WindowKey, prediction: PendingPrediction | None, value: object) -> WindowPerformance:
        state = self.states.get(key)
        if state is None:
            state = self.new_window(key[0], key[1])
            if state is None:
                task = "binary" if prediction is None else infer_task(prediction, value)
                state = WindowPerformance(task)
            self.states[key] = state
        self.dirty.add(key)
        return state

    def _results(self, results: list[Joined | Duplicate | Orphan]) -> None:
        # Joined pairs are added to their window once per message: a window's update costs as much
        # for one pair as for many (its score table is rebuilt).
        pairs: dict[WindowKey, tuple[list, list, list]] = {}
        for r in results:
            if isinstance(r, Joined):
                p = r.prediction
                key = (r.model_id, p.model_version, p.window_start_ms)
                state = self._state(key, p, r.label.value)
                guess = p.predicted if state.task == "multiclass" else p.score
                if state.task != "multiclass" and math.isnan(p.score):
                    continue  # a class prediction on a scored task: not scorable
                guesses, values, lags = pairs.setdefault(key, ([], [], []))
                guesses.append(guess)
                values.append(r.label.value)
                lags.append(r.lag_ms)
                error = self.errors.error(state.task, guess, r.label.value, positive=state.positive,
                                          threshold=state.threshold)
                if error is not None:
                    for event_id, alert in self.errors.observe(r.model_id, p.model_version, state.task, error,
                                                               p.window_start_ms, r.label.event_id):
                        self.changes.append(OnlineChange(partition=self.partition, event_id=event_id, alert=alert))
            elif isinstance(r, Duplicate) and r.prediction is not None:  # in its prediction's window
                p = r.prediction
                self._state((r.label.model_id, p.model_version, p.window_start_ms), None, r.label.value).add_duplicates(1)
            else:  # no prediction known: the window of the label's time, under the label's version
                label = r.label
                window = label.time_ms // self.window_ms * self.window_ms
                state = self._state((label.model_id, label.model_version, window), None, label.value)
                (state.add_orphans if isinstance(r, Orphan) else state.add_duplicates)(1)
        for key, (guesses, values, lags) in pairs.items():
            self.states[key].update(guesses, values, lags_ms=lags)

    def _expire(self) -> None:
        """Windows past the horizon get no more labels: their last copy downstream stands."""
        oldest = self.join.watermark_ms - self.join.horizon_ms
        for key in [k for k in self.states if k[2] + self.window_ms < oldest and k not in self.dirty]:
            del self.states[key]

    def take_changes(self) -> list[OnlineChange]:
        out, self.changes = self.changes, []
        return out

    def take_partials(self) -> list[PerformancePartial]:
        """The windows changed since the last call, as messages for the merge stage."""
        out = [PerformancePartial(model_id=k[0], model_version=k[1], window_start_ms=k[2],
                                  window_end_ms=k[2] + self.window_ms, join_partition=self.partition,
                                  state=self.states[k].to_state()) for k in sorted(self.dirty)]
        self.dirty.clear()
        return out
