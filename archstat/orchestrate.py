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
    """Every combination of inputs × batches × param values, analysed in train mode."""
    spec = load_spec(model)
    names = list(sets)
    size = math.prod([len(inputs), len(batches), *(len(sets[n]) for n in names)])
    if size > MAX_POINTS:   # counted before the grid is made
        raise UsageError(f"the grid has {size:,} points; the limit is {MAX_POINTS:,}")
    grid = list(itertools.product(inputs, batches, itertools.product(*(sets[n] for n in names))))
    dims = [d for d, values in (("input", inputs), ("batch", batches)) if len(values) > 1]
    dims += [n for n in names if len(sets[n]) > 1]
    sweep = Sweep(spec.name, dims, budget=budget, optimizer=optimizer, amp=amp, dtype=dtype)
    work = 0
    for k, (shape, batch, values) in enumerate(grid):
        params = dict(zip(names, values))
        stats = analyze(spec, params, input_shape=shape, batch=batch, dtype=dtype, mode="train",
                        optimizer=optimizer, amp=amp)
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
