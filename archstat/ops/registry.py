"""The op registry: one :class:`OpSpec` per YAML op, holding all of its knowledge.

Every formula is a pure function of the op's ``Args`` and the per-sample input
shapes (batch excluded). ``macs`` counts multiply-accumulates (conv, linear and
matmul, bias excluded); ``ops`` counts the other elementwise operations (compares, adds,
...). Both are required at registration: an op without a formula is an error,
never a silent zero; an op that costs nothing declares ``zero``.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from archstat.errors import UnknownNameError
from archstat.ops.types import Shape, check_min, coerce, type_name


def zero(*_args) -> int:
    """The cost of an op that declares it costs nothing."""
    return 0


def numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@dataclass(frozen=True)
class Saved:
    """One tensor an op saves for its backward pass (what autograd keeps until backward):
    its ``input`` or ``output`` (the same storage as the tensor it names: counted once however many
    ops save it), or an ``extra`` allocation of ``elements`` at ``nbytes`` per element (None: the
    activation dtype), e.g. max pooling's int64 indices or dropout's bool mask."""

    what: str
    elements: int = 0
    nbytes: Optional[int] = None
    index: int = 0                 # which input, for an op with several (a gate's product saves both)


def saves_input(*_args) -> tuple:
    return (Saved("input"),)


def saves_output(*_args) -> tuple:
    return (Saved("output"),)


def saves_nothing(*_args) -> tuple:
    return ()


@dataclass(frozen=True)
class RFStep:
    """One op's receptive-field step per spatial axis (None where it is global)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class OpSpec:
    name: str
    Args: type
    doc: str
    out_shape: Callable[[Any, list], Shape]
    weights: Callable[[Any, list], int]
    biases: Callable[[Any, list], int]
    macs: Callable[[Any, list, Shape], int]
    ops: Callable[[Any, list, Shape], int]
    saved: Callable[[Any, list, Shape], tuple]               # what it saves for backward (training)
    label: Callable[[Any, list, Shape], str]
    formula: Optional[Callable[[Any, list], str]] = None   # weights formula, as the slide shows it
    inplace: Callable[[Any], bool] = lambda args: False     # allocates no output (in place or a view)
    training_inplace: Optional[Callable[[Any], bool]] = None  # the same in training (None: as inplace)
    layer: str = ""                                         # "conv" or "linear": a layer papers count in depth
    rf: Optional[Callable[[Any], RFStep]] = None  # None: elementwise (kernel 1, stride 1)
    global_rf: Any = False            # output sees the whole input: a bool, or a function of the input shapes
    multi_input: bool = False
    gate: bool = False            # multiplies a map by factors computed from it: papers' depth follows the map
    # the torch half, attached by archstat/builder/torch_ops/ (ops/ never imports builder/):
    torch_type: str = ""                                    # the torch module class it builds
    build: Optional[Callable[[Any, list], Any]] = None      # Args, input shapes → nn.Module (torch inside)
    # the inverse, for analysing any nn.Module: its argument values, or None where Args cannot say it
    # (default: the module's attributes named like the Args fields)
    from_module: Optional[Callable[[Any], Optional[dict]]] = None
    torch_aliases: tuple[str, ...] = ()                     # other torch classes it reads (BatchNorm1d)
    # the performance model's half, attached by archstat/perf/recipes.py: the operator calls its module
    # runs in eval mode (ctx → None; every registered op has one, or the recipes refuse to load)
    operators: Optional[Callable[[Any], None]] = None

    def inplace_when(self, args, training: bool) -> bool:
        """Whether it allocates nothing, at inference or (``training``) in a training step."""
        rule = self.training_inplace if training and self.training_inplace is not None else self.inplace
        return rule(args)

    def sees_all(self, in_shapes) -> bool:
        """Whether each output sees its whole input (``global_rf``, which may depend on the shapes)."""
        return self.global_rf(in_shapes) if callable(self.global_rf) else self.global_rf

    def args_of_module(self, module) -> Optional[dict]:
        """The argument values a torch module of this op's class was built with, or None."""
        if self.from_module is not None:
            return self.from_module(module)
        return {f.name: getattr(module, f.name) for f in self.fields() if hasattr(module, f.name)}

    def fields(self) -> tuple[dataclasses.Field, ...]:
        cached = _FIELDS.get(self.Args)
        if cached is None:
            cached = _FIELDS[self.Args] = dataclasses.fields(self.Args)
        return cached

    def types(self) -> dict[str, Any]:
        """Field name → resolved type (annotations are strings under PEP 563)."""
        hints = _HINTS.get(self.Args)
        if hints is None:
            hints = _HINTS[self.Args] = typing.get_type_hints(self.Args)
        return hints

    def make_args(self, values: dict, where: str = "") -> Any:
        """Coerce a mapping of argument values into ``Args``; ``ValueError`` names the argument.

        Unknown and missing arguments are reported by the caller (which knows
        the locations); this checks types and bounds.
        """
        kwargs = {}
        types = self.types()
        for f in self.fields():
            if f.name in values:
                v = coerce(values[f.name], types[f.name], f"'{f.name}'")
                check_min(v, f.metadata.get("min"), f"'{f.name}'")
                kwargs[f.name] = v
            elif f.default is not dataclasses.MISSING:  # defaults in their canonical form: 1 → (1, 1)
                kwargs[f.name] = coerce(f.default, types[f.name], f"'{f.name}'")
        return self.Args(**kwargs)

    def required(self) -> list[str]:
        return [f.name for f in self.fields()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]

    def signature(self) -> str:
        parts = []
        types = self.types()
        for f in self.fields():
            t = type_name(types[f.name])
            parts.append(f"{f.name}: {t}" if f.name in self.required()
                         else f"{f.name}: {t} = {f.default!r}")
        return ", ".join(parts)


REGISTRY: dict[str, OpSpec] = {}
_HINTS: dict[type, dict] = {}
_FIELDS: dict[type, tuple] = {}


def register_op(name: str, **kw) -> OpSpec:
    if name in REGISTRY:
        raise ValueError(f"op {name!r} registered twice")  # pragma: no cover - programming error
    for required in ("macs", "ops", "weights", "biases", "out_shape", "label", "saved"):
        if required not in kw:
            raise TypeError(f"op {name!r} declares no {required} formula")  # pragma: no cover
    spec = OpSpec(name=name, **kw)
    REGISTRY[name] = spec
    return spec


def same_shape(a, in_shapes) -> Shape:
    """The output shape of an op that keeps its input's."""
    return in_shapes[0]


def register_view(name: str, *, view: bool, label: Any = None, out_shape: Callable[[Any, list], Shape] = same_shape,
                  saved: Callable[[Any, list, Shape], tuple] = saves_nothing, **kw) -> OpSpec:
    """An op that costs nothing: no weights, no biases, no MACs, no other ops (a view, a pass-through, a
    copy). ``view``: it allocates nothing (a view or the identity; ``inplace`` True), else a new tensor;
    ``label``: the row's label, a string (default the name in capitals) or a function (args, in_shapes,
    out_shape) → str; ``out_shape`` defaults to the input's, ``saved`` to nothing for backward."""
    text = name.upper() if label is None else label
    if view:
        kw.setdefault("inplace", lambda a: True)
    return register_op(name, out_shape=out_shape, weights=zero, biases=zero, macs=zero, ops=zero, saved=saved,
                       label=text if callable(text) else (lambda a, s, o: text), **kw)


def get_op(name: str, **error_kw) -> OpSpec:
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownNameError("op", name, REGISTRY, **error_kw) from None


def all_ops() -> dict[str, OpSpec]:
    _load_all()
    return REGISTRY


_LOADED: list[bool] = []


def _load_all() -> None:
    if _LOADED:
        return
    from archstat.ops import activation, attention, conv, layout, lenet, linear, merge, norm, pool, scale, shape, tokens  # noqa: F401  # noqa: F401  # noqa: F401
    _LOADED.append(True)
