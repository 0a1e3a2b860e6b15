"""One contract, run over every registered statistic (and every public class of detectors.stats):

- the registry is built explicitly and each class knows its own name;
- constructor defaults are immutable and hyperparameters are stored verbatim, same-named;
- snapshot() is plain data and json.dumps works; to_state() round-trips through JSON;
- where mergeable: merging the states of any split of a batch (2..8 parts) gives exactly the
  single-state result, merge is associative and leaves its inputs alone; where not, no merge();
- every public class has a docstring with a runnable example, and the doctests pass.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import json
import pkgutil
from types import MappingProxyType

import numpy as np
import pytest

import detectors.stats
from detectors.profile import CategoricalProfile, NumericProfile
from detectors.stats.grid import FineGrid
from detectors.stats.registry import INPUTS, REFERENCES, build_registry

REGISTRY = build_registry()
_RNG_SEED = 61


def _reference(kind: str | None, inputs: str):
    rng = np.random.default_rng(_RNG_SEED)
    if kind == "fine_grid":
        return FineGrid.from_values(rng.normal(size=5_000))
    if kind == "categorical_profile" or (kind == "profile" and inputs == "categorical"):
        return CategoricalProfile.from_values(rng.choice(["a", "b", "c"], size=3_000, p=[0.5, 0.3, 0.2]).tolist())
    if kind == "profile":
        return NumericProfile.from_values(rng.normal(size=5_000))
    return None


def _batch(inputs: str) -> tuple:
    """One batch of update() arguments for an input kind (always a tuple of arguments)."""
    rng = np.random.default_rng(_RNG_SEED + 1)
    if inputs == "numeric":
        values = rng.normal(0.3, 1.2, size=1_500)
        values[::97] = np.nan
        return (values,)
    if inputs == "categorical":
        # .tolist(): Python str; detectors.binning counts numpy str_ as a type error
        return (rng.choice(["a", "b", "c", "new"], size=1_500, p=[0.4, 0.3, 0.2, 0.1]).tolist() + [None, 3],)
    if inputs == "scalar_stream":
        return (np.concatenate([rng.normal(0, 1, 1_500), rng.normal(2, 1, 1_500)]),)
    if inputs == "error_stream":
        return ((rng.random(3_000) < np.linspace(0.05, 0.5, 3_000)).astype(float),)
    if inputs == "scores_and_labels":
        labels = (rng.random(1_500) < 0.4).astype(int)
        return (np.round(rng.random(1_500) * 0.6 + 0.3 * labels, 3), labels)
    if inputs == "class_labels":
        labels = rng.choice(["x", "y", "z"], size=1_500)
        return (np.where(rng.random(1_500) < 0.6, labels, "y"), labels)
    if inputs == "regression":
        y = rng.normal(10.0, 2.0, size=1_500)
        return (y + rng.normal(0.1, 0.5, size=1_500), y)
    raise AssertionError(inputs)


def _cases():
    for name, spec in REGISTRY.items():
        if spec.inputs == "numeric_or_categorical":
            yield pytest.param(spec, "numeric", id=f"{name}-numeric")
            yield pytest.param(spec, "categorical", id=f"{name}-categorical")
        else:
            yield pytest.param(spec, spec.inputs, id=name)


def _make(spec, inputs, **params):
    reference = _reference(spec.reference, inputs)
    return spec.factory(reference, **params) if spec.reference else spec.factory(**params)


def _restore(spec, inputs, state):
    reference = _reference(spec.reference, inputs)
    return spec.factory.from_state(state, reference) if spec.reference else spec.factory.from_state(state)


def _split(batch: tuple, parts: int) -> list[tuple]:
    pieces = [np.array_split(np.asarray(arg, dtype=object if isinstance(arg, list) else None), parts)
              for arg in batch]
    return [tuple(p.tolist() if p.dtype == object else p for p in chunk) for chunk in zip(*pieces)]


def _is_plain(value) -> bool:
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(_is_plain(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _is_plain(v) for k, v in value.items())
    return False


def _immutable(value) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, bytes, frozenset)):
        return True
    if isinstance(value, tuple):
        return all(_immutable(v) for v in value)
    if isinstance(value, MappingProxyType):
        return all(_immutable(v) for v in value.values())
    return False


def test_registry_is_explicit_and_complete() -> None:
    assert build_registry() is not REGISTRY and build_registry().keys() == REGISTRY.keys()
    assert {"psi", "ks", "chi2", "js", "wasserstein", "adwin", "page_hinkley", "ddm"} <= REGISTRY.keys()
    for name, spec in REGISTRY.items():
        assert spec.factory.name == name
        assert spec.inputs in INPUTS and spec.reference in (None, *REFERENCES)
        assert hasattr(spec.factory, "merge") == spec.mergeable


@pytest.mark.parametrize(("spec", "inputs"), list(_cases()))
def test_defaults_are_immutable_and_params_verbatim(spec, inputs) -> None:
    signature = inspect.signature(spec.factory.__init__)
    params = [p for p in signature.parameters.values() if p.name not in ("self", "reference")]
    for p in params:
        assert p.kind is p.KEYWORD_ONLY, f"{spec.name}.{p.name} must be keyword-only"
        assert p.default is not p.empty and _immutable(p.default), f"{spec.name}.{p.name} default"
    default = _make(spec, inputs)
    for p in params:
        assert getattr(default, p.name) is p.default
    if spec.reference:
        reference = _reference(spec.reference, inputs)
        assert spec.factory(reference).reference is reference


@pytest.mark.parametrize(("spec", "inputs"), list(_cases()))
def test_snapshot_is_plain_data_and_state_round_trips(spec, inputs) -> None:
    stat = _make(spec, inputs)
    assert _is_plain(stat.snapshot())
    json.dumps(stat.snapshot())  # an empty window may report NaN
    stat.update(*_batch(inputs))
    snapshot = stat.snapshot()
    assert _is_plain(snapshot), snapshot
    json.dumps(snapshot, allow_nan=False)
    state = stat.to_state()
    assert _is_plain(state)
    text = json.dumps(state, allow_nan=False)
    restored = _restore(spec, inputs, json.loads(text))
    assert restored.to_state() == state and restored.snapshot() == snapshot


@pytest.mark.parametrize(("spec", "inputs"), [c for c in _cases() if c.values[0].mergeable])
def test_merge_is_exact_and_associative(spec, inputs) -> None:
    batch = _batch(inputs)
    whole = _make(spec, inputs)
    whole.update(*batch)
    for parts in range(2, 9):
        states = []
        for chunk in _split(batch, parts):
            part = _make(spec, inputs)
            part.update(*chunk)
            states.append(part)
        before = [s.to_state() for s in states]
        merged = states[0]
        for part in states[1:]:
            merged = merged.merge(part)
        assert merged.to_state() == whole.to_state() and merged.snapshot() == whole.snapshot()
        assert [s.to_state() for s in states] == before  # inputs untouched
    a, b, c = (_make(spec, inputs) for _ in range(3))
    for stat, chunk in zip((a, b, c), _split(batch, 3)):
        stat.update(*chunk)
    assert a.merge(b).merge(c).to_state() == a.merge(b.merge(c)).to_state()


def _stats_modules():
    for info in pkgutil.iter_modules(detectors.stats.__path__):
        yield importlib.import_module(f"detectors.stats.{info.name}")


def test_every_public_class_has_a_docstring_example() -> None:
    missing = []
    for module in _stats_modules():
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and not name.startswith("_"):
                if ">>>" not in (obj.__doc__ or ""):
                    missing.append(f"{module.__name__}.{name}")
    assert not missing


@pytest.mark.parametrize("module", [m.__name__ for m in _stats_modules()])
def test_doctests_pass(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
