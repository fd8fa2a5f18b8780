"""The torch half of every op: the module it builds (``build``), the torch class that module is
(``torch_type``, ``torch_aliases``) and how a module's arguments are read back (``from_module``).

ops/ holds the pure half (Args, shapes, params, MACs) and imports nothing from builder/; the modules
here attach the torch half to each registered op when ``archstat.builder`` is imported (``load``),
one module per ops module. Nothing here imports torch until a function runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from archstat.ops import registry
from archstat.ops.registry import OpSpec

__all__ = ["attach", "load", "op_for_module"]

_BY_TORCH_TYPE: dict[str, OpSpec] = {}
_LOADED: list[bool] = []


def attach(
    name: str,
    *,
    torch_type: str = "",
    build: Optional[Callable[[Any, list], Any]] = None,
    from_module: Optional[Callable[[Any], Optional[dict]]] = None,
    torch_aliases: tuple[str, ...] = (),
) -> None:
    """Give the registered op ``name`` its torch half (the OpSpec keeps its identity: it is updated in place)."""
    spec = registry.REGISTRY[name]
    for field, value in (
        ("torch_type", torch_type),
        ("build", build),
        ("from_module", from_module),
        ("torch_aliases", tuple(torch_aliases)),
    ):
        object.__setattr__(spec, field, value)  # a frozen dataclass, completed once at load
    _BY_TORCH_TYPE.clear()


def load() -> None:
    """Attach the torch half of every op (once)."""
    if _LOADED:
        return
    _LOADED.append(True)
    registry.all_ops()
    from archstat.builder.torch_ops import (
        activation,  # noqa: F401
        attention,  # noqa: F401
        conv,  # noqa: F401
        layout,  # noqa: F401
        lenet,  # noqa: F401
        linear,  # noqa: F401
        merge,  # noqa: F401
        norm,  # noqa: F401
        pool,  # noqa: F401
        scale,  # noqa: F401
        shape,  # noqa: F401
        tokens,  # noqa: F401
    )


def op_for_module(module) -> Optional[OpSpec]:
    """The op whose ``build`` makes modules of this torch class (``Conv2d`` → conv), if any.

    Only torch's own classes and the ones archstat builds match: a user's class that merely shares a
    name (its own ``WindowAttention``) is traced op by op like any other module."""
    load()
    if not type(module).__module__.startswith(("torch.", "archstat.")):
        return None
    if not _BY_TORCH_TYPE:
        for spec in registry.REGISTRY.values():
            for name in (spec.torch_type, *spec.torch_aliases):
                if name:
                    _BY_TORCH_TYPE[name] = spec
    return _BY_TORCH_TYPE.get(type(module).__name__)
