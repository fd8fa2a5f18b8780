"""The public API. Nothing here imports torch.

>>> import archstat
>>> stats = archstat.analyze("vgg16")
>>> stats.totals.params
138357544
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from archstat.analyze.references import check_all
from archstat.analyze.stats import DTYPE_BYTES, ModelStats, analyze_graph
from archstat.config.expand import expand
from archstat.config.loader import read_config_text
from archstat.config.spec import Spec, parse_spec
from archstat.errors import UsageError
from archstat.graph import Graph
from archstat.zoo import resolve

_SPEC_CACHE: dict[tuple[str, float], Spec] = {}


def load_spec(name_or_path: str | Path) -> Spec:
    """Read and validate a config (a zoo name or a path)."""
    path, shown = resolve(name_or_path)
    return parse_spec(read_config_text(path, shown), shown)


def load(name_or_path: str | Path | Spec, params: Optional[dict[str, Any]] = None, *,
         input_shape: Optional[tuple[int, ...]] = None, origin: str = "--set") -> Graph:
    """Config → Graph, with declared params overridden by ``params`` and the input by ``input_shape``."""
    spec = name_or_path if isinstance(name_or_path, Spec) else load_spec(name_or_path)
    env = spec.bind(params, origin=origin)
    if input_shape is not None:
        spec = _with_input(spec, input_shape)
    return expand(spec, env)


def _with_input(spec: Spec, shape: tuple[int, ...]) -> Spec:
    from dataclasses import replace

    return replace(spec, input=tuple(shape))


def analyze(model: str | Path | Spec | Graph, params: Optional[dict[str, Any]] = None, *,
            input_shape: Optional[tuple[int, ...]] = None, batch: int = 1, dtype: str = "float32",
            fold: bool = True, depth: Optional[int] = None) -> ModelStats:
    """Per-layer rows, totals and published-vs-computed checks for a config."""
    if dtype not in DTYPE_BYTES:
        raise UsageError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPE_BYTES)})")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise UsageError(f"batch must be a positive integer, got {batch!r}")
    spec = model if isinstance(model, Spec) else None
    if isinstance(model, Graph):
        graph, description, figures = model, "", []
    else:
        spec = spec or load_spec(model)
        graph = load(spec, params, input_shape=input_shape)
        description, figures = spec.description, spec.figures
    stats = analyze_graph(graph, description=description, batch=batch, dtype=dtype, fold=fold, depth=depth)
    # published figures are for the config's own input; under another input they do not apply
    if figures and (input_shape is None or tuple(input_shape) == spec.input):
        stats.references = check_all(figures, stats.per_sample, stats.output_shape)
    elif figures:
        stats.references_skipped = (f"{len(figures)} published figures are for the input "
                                    f"{'×'.join(map(str, spec.input))} and are not checked at this one")
    return stats
