"""The merge stage's core (#9), without I/O: partial windows from every partition in, one final
window per (model, version, window) out, once every partition has passed the window's end.

The faust adapter is merge_stage.py (an agent on the partials topic, its state in a
changelog-backed Table). The rules, as the tests pin them down:
- A partition sends a window's partial state when it closes the window there, and its progress
  (`closed_until_ms`: every window ending at or before it is closed in that partition, and its
  partial sent) after its partials, also when it had no event for a model at all.
- A window is final when every partition of the predictions topic has progressed past its end
  (the global watermark is the minimum over partitions), so a partition that never sees a model
  holds nothing back once it reports progress.
- Partials are idempotent: a replayed partial (after a crash) replaces its earlier copy from the
  same partition, never adds to it; one for a window already finalised is a replay and is ignored.
- Merging needs one reference profile: partials built on different profiles (a profile published
  while the window was open in some partitions) are merged per profile; the final window is the
  largest group, and the events of the others are reported apart (`unmerged_events`), not lost.

State is plain data (`to_state`/`from_state`), so it fits a changelog Table as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from detectors.window import ModelWindow

WindowId = tuple[str, str, int, int]  # model_id, model_version, window start ms, window end ms
# A partial's state (ModelWindow.to_state()) back into a window; the adapter resolves the profile
# by the fingerprint the partial carries.
Restore = Callable[[dict, str | None], ModelWindow]


@dataclass(frozen=True)
class FinalWindow:
    window_id: WindowId
    window: ModelWindow
    partitions: tuple[int, ...]  # the partitions whose partials it merges
    unmerged_events: int = 0  # events of partials built on another profile than the merged ones
    partitions_seen: tuple[int, ...] = ()  # every partition that sent a partial, merged or not
    closed_by: str = "watermark"  # how the partitions closed it ("idle" when any did by idleness)
    counts: tuple[tuple[int, int], ...] = ()  # (partition, events) of every partial, merged or not


@dataclass
class WindowMerger:
    partitions: int  # of the predictions topic: all must report progress
    restore: Restore
    _partials: dict[WindowId, dict[int, tuple[str | None, dict]]] = field(default_factory=dict)
    _closed_by: dict[WindowId, set[str]] = field(default_factory=dict)
    _progress: dict[int, int] = field(default_factory=dict)  # partition -> closed_until_ms
    _finalised_until: int = 0  # windows ending at or before this were finalised (or never had a partial)

    def add_partial(self, window_id: WindowId, partition: int, profile: str | None, state: dict,
                    closed_by: str = "watermark") -> bool:
        """Take one partition's partial state of a window; False when the window is already final
        (a replay after a crash: ignored)."""
        if window_id[3] <= self._finalised_until:
            return False
        self._partials.setdefault(window_id, {})[partition] = (profile, state)
        self._closed_by.setdefault(window_id, set()).add(closed_by)
        return True

    def progress(self, partition: int, closed_until_ms: int) -> None:
        """A partition has closed every window ending at or before `closed_until_ms`."""
        if closed_until_ms > self._progress.get(partition, -1):
            self._progress[partition] = closed_until_ms

    def progress_text(self) -> str:
        return " ".join(f"{p}:{c}" for p, c in sorted(self._progress.items()))

    @property
    def finalised_until_ms(self) -> int:
        return self._finalised_until

    @property
    def watermark_ms(self) -> int | None:
        """Every partition is past this (None until all have reported)."""
        if len(self._progress) < self.partitions:
            return None
        return min(self._progress.values())

    def finalise(self) -> list[FinalWindow]:
        """The windows every partition has passed, oldest first, each merged from its partials."""
        mark = self.watermark_ms
        if mark is None or mark <= self._finalised_until:
            return []
        due = sorted((w for w in self._partials if w[3] <= mark), key=lambda w: (w[2], w[:2]))
        final = [self._merge(w, self._partials.pop(w), self._closed_by.pop(w, set())) for w in due]
        self._finalised_until = mark
        return final

    def _merge(self, window_id: WindowId, parts: dict[int, tuple[str | None, dict]], closed_by: set[str]) -> FinalWindow:
        groups: dict[str | None, list[int]] = {}
        for partition, (profile, _) in sorted(parts.items()):
            groups.setdefault(profile, []).append(partition)
        # The largest group wins (ties: the profile of the lowest partition), so the result does
        # not depend on the order partials arrived in.
        chosen = max(groups, key=lambda p: (sum(parts[q][1]["count"] for q in groups[p]), -min(groups[p])))
        merged = None
        for partition in groups[chosen]:
            window = self.restore(parts[partition][1], chosen)
            merged = window if merged is None else merged.merge(window)
        others = sum(parts[q][1]["count"] + parts[q][1]["late_count"] for p, qs in groups.items() if p != chosen
                     for q in qs)
        return FinalWindow(window_id, merged, tuple(groups[chosen]), others, tuple(sorted(parts)),
                           "idle" if "idle" in closed_by else "watermark",
                           tuple((q, int(parts[q][1]["count"])) for q in sorted(parts)))

    def to_state(self) -> dict:
        return {"version": 1, "finalised_until": self._finalised_until,
                "progress": {str(p): c for p, c in self._progress.items()},
                "partials": [[list(w), p, profile, state] for w, parts in self._partials.items()
                             for p, (profile, state) in parts.items()],
                "closed_by": [[list(w), sorted(how)] for w, how in self._closed_by.items()]}

    @classmethod
    def from_state(cls, state: dict, partitions: int, restore: Restore) -> "WindowMerger":
        if state.get("version") != 1:
            raise ValueError(f"unknown merger state version {state.get('version')!r}")
        merger = cls(partitions, restore)
        merger._finalised_until = int(state["finalised_until"])
        merger._progress = {int(p): int(c) for p, c in state["progress"].items()}
        for window_id, partition, profile, partial in state["partials"]:
            merger._partials.setdefault(tuple(window_id), {})[int(partition)] = (profile, partial)
        for window_id, how in state.get("closed_by", []):
            merger._closed_by.setdefault(tuple(window_id), set()).update(how)
        return merger
