"""Orchestration: what loads a model and then analyses it, several times over. It sits beside
``api.py`` (above analyze/, whose functions take a Graph or a ModelStats and never load a model):

- ``run_sweep``: one analysis per point of a grid over input size, batch and declared params
  (``archstat sweep``, ``plot --sweep``);
- ``reproduce``: a claims file's claims, computed from zoo models (``archstat reproduce``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Optional

from archstat.analyze.claims import ClaimResult, evaluate
from archstat.analyze.sweep import MAX_POINTS, MAX_WORK, Sweep, SweepPoint
from archstat.api import analyze, load_spec
from archstat.errors import UsageError

__all__ = ["reproduce", "run_sweep"]


def run_sweep(model: str, inputs: list[Optional[tuple[int, ...]]], batches: list[int],
              sets: dict[str, list[str]], *, dtype: str = "float32", optimizer: str = "adam", amp: bool = False,
              budget: Optional[int] = None, progress: Optional[Callable[[int, int], None]] = None) -> Sweep:
    """Every combination of inputs × batches × param values, analysed in train mode. A module (``module:…``, a
    zoo module) is built once and traced per point, at the input given or its own (``find_input``)."""
    from archstat.zoo import as_target

    target = as_target(model)
    if target.startswith("module:"):
        if sets:
            raise UsageError(f"--set {next(iter(sets))}=…: a module declares no params (they apply to configs)")
        name, analyse = _module_points(target, dtype=dtype, optimizer=optimizer, amp=amp)
    else:
        spec = load_spec(model)
        name = spec.name

        def analyse(shape, batch, params):
            return analyze(spec, params, input_shape=shape, batch=batch, dtype=dtype, mode="train",
                           optimizer=optimizer, amp=amp)
    names = list(sets)
    size = math.prod([len(inputs), len(batches), *(len(sets[n]) for n in names)])
    if size > MAX_POINTS:   # counted before the grid is made
        raise UsageError(f"the grid has {size:,} points; the limit is {MAX_POINTS:,}")
    grid = list(itertools.product(inputs, batches, itertools.product(*(sets[n] for n in names))))
    dims = [d for d, values in (("input", inputs), ("batch", batches)) if len(values) > 1]
    dims += [n for n in names if len(sets[n]) > 1]
    sweep = Sweep(name, dims, budget=budget, optimizer=optimizer, amp=amp, dtype=dtype)
    work = 0
    for k, (shape, batch, values) in enumerate(grid):
        params = dict(zip(names, values))
        stats = analyse(shape, batch, params)
        work += len(stats.rows)
        if (k == 0 and len(stats.rows) * len(grid) > MAX_WORK) or work > MAX_WORK:
            raise UsageError(f"the sweep analyses {len(grid):,} points of {len(stats.rows):,} layers; the limit is "
                             f"{MAX_WORK:,} layers in all (sweep fewer points)")
        total = stats.training.total
        sweep.points.append(SweepPoint(input=stats.input_shape, batch=batch,
                                       params_set={n: stats.params[n] for n in names},
                                       params=stats.totals.params, macs=stats.totals.macs,
                                       activation_bytes=stats.totals.activation_bytes, training_bytes=total,
                                       fits=None if budget is None else total <= budget))
        if progress:
            progress(k + 1, len(grid))
    return sweep


def _module_points(target: str, *, dtype: str, optimizer: str, amp: bool):
    """(the module's name, a function analysing it at one point of a grid): built once, its input at each
    point the one given or its own (``trace.factory.find_input``), traced in train mode."""
    from archstat.trace.analyze import analyze_module
    from archstat.trace.factory import build_target_on_cpu, find_input, load_target, with_sample_hint
    from archstat.zoo import shown_name

    built = load_target(target)

    def analyse(shape, batch, _params):
        inputs = find_input(built.model, shape, target=target, example=built.inputs)
        return with_sample_hint(inputs, lambda: analyze_module(
            built.model, inputs, name=shown_name(target), notes=tuple(built.notes), batch=batch, dtype=dtype,
            mode="train", optimizer=optimizer, amp=amp, cpu_model=lambda: build_target_on_cpu(target)))

    return shown_name(target), analyse


def reproduce(path: Optional[str] = None) -> tuple[dict, list[ClaimResult]]:
    """The claims of a claims file (default: the bundled cs231n Lecture 9 claims) with their computed values
    and verdicts; each model analysed once per params and input."""
    cache: dict = {}

    def stats(model: str, overrides: dict, input_shape: Optional[tuple] = None):
        key = (model, tuple(sorted(overrides.items())), input_shape)
        if key not in cache:
            cache[key] = analyze(model, overrides, input_shape=input_shape)
        return cache[key]

    return evaluate(path, stats)
