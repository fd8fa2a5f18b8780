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
from archstat.analyze.stats import DTYPE_BYTES, MODES, ModelStats, analyze_graph
from archstat.config.expand import expand
from archstat.config.loader import read_config_text
from archstat.config.spec import Spec, parse_spec
from archstat.errors import UsageError
from archstat.graph import Graph
from archstat.zoo import resolve

_SPEC_CACHE: dict[tuple, Spec] = {}


def load_spec(name_or_path: str | Path) -> Spec:
    """Read and validate a config (a zoo name or a path)."""
    path, shown = resolve(name_or_path)
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size, shown)
    except OSError:
        key = None   # read_config_text reports it
    if key is not None and key in _SPEC_CACHE:
        return _SPEC_CACHE[key]
    spec = parse_spec(read_config_text(path, shown), shown)
    if key is not None:
        if len(_SPEC_CACHE) > 256:
            _SPEC_CACHE.clear()
        _SPEC_CACHE[key] = spec   # a Spec is never changed after parsing (an --input makes a copy)
    return spec


def load(name_or_path: str | Path | Spec, params: Optional[dict[str, Any]] = None, *,
         input_shape: Optional[tuple[int, ...]] = None, origin: str = "--set") -> Graph:
    """Config → Graph, with declared params overridden by ``params`` and the input by ``input_shape``."""
    spec = name_or_path if isinstance(name_or_path, Spec) else load_spec(name_or_path)
    env = spec.bind(params, origin=origin)
    input_shape = _config_input(input_shape)
    shape = input_shape if input_shape is not None else spec.input_for(env)
    if shape != spec.input:
        spec = _with_input(spec, shape)
    return expand(spec, env)


def _config_input(input_shape) -> Optional[tuple[int, ...]]:
    """A config's input: a shape (3, 224, 224), or a string in the input grammar ('3x224x224',
    parsed, never iterated), or an InputSet of one plain input."""
    if input_shape is None:
        return None
    from archstat.trace.inputs import normalize   # no torch

    return normalize(input_shape).config_shape()


def _with_input(spec: Spec, shape: tuple[int, ...]) -> Spec:
    from dataclasses import replace

    return replace(spec, input=tuple(shape))


def analyze(model: str | Path | Spec | Graph, params: Optional[dict[str, Any]] = None, *,
            input_shape: Optional[tuple[int, ...]] = None, batch: int = 1, dtype: str = "float32",
            fold: bool = True, depth: Optional[int] = None, mode: str = "eval", optimizer: str = "adam",
            amp: bool = False, convention: Optional[str] = None) -> ModelStats:
    """Per-layer rows, totals and published-vs-computed checks for a config (a zoo name, a path,
    a Spec or a Graph), or for any ``nn.Module`` or ``"module:PKG.MOD:FACTORY"`` with ``input_shape``.

    ``input_shape``: one per-sample shape ((3, 224, 224), or '3x224x224' in the ``--input``
    grammar), or for a module a list of them (positional inputs) or a dict of name → shape
    (keyword inputs), e.g. ``{'input_ids': 'int64:128', 'decoder_input_ids': 'int64:16'}``.
    ``convention`` (a module): also compute what fvcore, flop_counter, ptflops, thop or torchinfo
    would print (``stats.conventions``).

    ``mode='eval'`` leaves auxiliary heads out of the rows and totals; ``'train'`` counts them and
    adds the training-memory estimate (``optimizer`` sgd|momentum|adam, ``amp`` for autocast).
    """
    from archstat.analyze.training import OPTIMIZER_STATES

    if optimizer not in OPTIMIZER_STATES:
        raise UsageError(f"unknown optimizer '{optimizer}' (choose from {', '.join(OPTIMIZER_STATES)})")
    if dtype not in DTYPE_BYTES:
        raise UsageError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPE_BYTES)})")
    if mode not in MODES:
        raise UsageError(f"unknown mode '{mode}' (choose from {', '.join(MODES)})")
    if mode == "train" and dtype == "int8":
        raise UsageError("--dtype int8 with --mode train: int8 is an inference format; training memory is "
                         "estimated for float32, float16 or bfloat16 (or --amp)")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise UsageError(f"batch must be a positive integer, got {batch!r}")
    if isinstance(model, Graph):
        return analyze_graph(model, batch=batch, dtype=dtype, fold=fold, depth=depth, mode=mode,
                             optimizer=optimizer, amp=amp)
    if hasattr(model, "named_modules") and hasattr(model, "forward"):  # an nn.Module (torch is loaded)
        from archstat.trace.analyze import analyze_module

        if input_shape is None:
            raise UsageError("analyzing an nn.Module needs input_shape, e.g. (3, 224, 224)")
        return analyze_module(model, input_shape, batch=batch, dtype=dtype, fold=fold, depth=depth,
                              mode=mode, optimizer=optimizer, amp=amp, convention=convention)
    if isinstance(model, str) and model.startswith("module:"):
        from archstat.trace.factory import analyze_target

        return analyze_target(model, input_shape, batch=batch, dtype=dtype, fold=fold, depth=depth, mode=mode,
                              optimizer=optimizer, amp=amp, convention=convention)
    if convention is not None:
        raise UsageError(f"--convention {convention}: applies to modules (module:… targets); a config's MACs "
                         "follow archstat's convention")
    input_shape = _config_input(input_shape)
    spec = model if isinstance(model, Spec) else load_spec(model)
    graph = load(spec, params, input_shape=input_shape)
    stats = analyze_graph(graph, description=spec.description, batch=batch, dtype=dtype, fold=fold,
                          depth=depth, mode=mode, optimizer=optimizer, amp=amp)
    # published figures are for the config's own input; under another input they do not apply
    if spec.figures and (input_shape is None or tuple(input_shape) == spec.input):
        stats.references = check_all(spec.figures, stats, _evaluator(spec, stats))
    elif spec.figures:
        stats.references_skipped = (f"{len(spec.figures)} published figures are for the input "
                                    f"{'×'.join(map(str, spec.input))} and are not checked at this one")
    return stats


def build(model: str | Path | Spec | Graph, params: Optional[dict[str, Any]] = None, *,
          device: Optional[str] = None, input_shape: Optional[tuple[int, ...]] = None, **param_values):
    """The torch ``nn.Module`` of a config; its ``named_modules()`` names equal the table's rows.

    ``archstat.build("googlenet-bottleneck", c3_reduce=128, device="meta")``. torch is imported
    here, not before; without it this raises RuntimeFailure with the install line.
    """
    from archstat.builder.torch_builder import build_graph

    params = {**(params or {}), **param_values}
    graph = model if isinstance(model, Graph) else load(str(model) if isinstance(model, Path) else model, params,
                                                         input_shape=input_shape)
    return build_graph(graph, device)


def _evaluator(spec: Spec, stats: ModelStats):
    """What a figure needs beyond ``stats``: this config under other params or mode, or another model."""
    cache: dict = {}

    def evaluate(model: Optional[str], overrides: dict, mode: str) -> ModelStats:
        key = (model, tuple(sorted(overrides.items())), mode)
        if key not in cache:
            target = spec if model is None else load_spec(model)
            cache[key] = analyze_graph(load(target, overrides, origin="reference set"), mode=mode)
        return cache[key]

    return evaluate
