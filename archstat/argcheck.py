"""Checks of the arguments that the Python API (``archstat.load``, ``analyze``, ``build``, ``compare``,
``roofline``) and the command line take: a wrong type or value is a typed, located error
(``ArgumentTypeError`` / ``ArgumentValueError``, both ``ArchstatError``s; also a ``TypeError`` /
``ValueError`` for code that catches those), raised before any work, never an ``AttributeError`` from
deep inside. The location is the function and the argument: ``archstat.load: params: ...``.

The roofline's figures have one range here for ``--peak``/``--bandwidth``/``--overhead`` and for
``archstat.roofline(peak=, bandwidth=, overhead_s=)`` alike: finite, positive and physically
possible (from a microcontroller to a wafer-scale chip, see ``ROOF_LIMITS``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from archstat import dtypes
from archstat.errors import ArgumentTypeError, ArgumentValueError, UnknownNameError, did_you_mean

MAX_BATCH = 10**9   # the largest batch, for --batch and batch= alike

# (low, high, unit): low end a microcontroller (~10^7 FLOP/s, a few MB/s), high end above a
# wafer-scale chip (Cerebras WSE-3: 125 PFLOP/s = 1.25e17 dense fp16, 21 PB/s on-chip bandwidth =
# 2.1e16 B/s, per its 2024 datasheet) with a decade of headroom; an overhead from 0 to 1 s per op.
ROOF_LIMITS = {
    "peak": (1e6, 1e18, "FLOP/s"),
    "bandwidth": (1e6, 1e17, "bytes/s"),
    "overhead_s": (0.0, 1.0, "s"),
}


def shown(value: Any, limit: int = 60) -> str:
    """A value as an error shows it: its type and a short repr (``list [1, 2]``)."""
    text = repr(value)
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return f"{type(value).__name__} {text}"


def where(fn: str, arg: str) -> str:
    return f"{fn}: {arg}"


def expect_mapping(value: Any, fn: str, arg: str = "params", example: str = "{'width': 2}") -> dict:
    """None or a mapping with str keys (param names)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(f"expected a mapping of param names to values such as {example}, got {shown(value)}",
                                path=where(fn, arg))
    for key in value:
        if not isinstance(key, str):
            raise ArgumentTypeError(f"param names are strings, got {shown(key)}", path=where(fn, arg))
    return dict(value)


def expect_int(value: Any, fn: str, arg: str, low: Optional[int] = None, high: Optional[int] = None,
               optional: bool = False) -> Optional[int]:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ArgumentTypeError(f"expected an integer{' or None' if optional else ''}, got {shown(value)}",
                                path=where(fn, arg))
    problem = range_problem(value, low, high)
    if problem:
        raise ArgumentValueError(f"{problem}, got {value:,}", path=where(fn, arg))
    return value


def range_problem(value: int, low: Optional[int] = None, high: Optional[int] = None) -> Optional[str]:
    """'must be between 1 and 1,000,000,000' when ``value`` is out of bounds, else None: the words of the
    API's errors (``batch: must be …, got 0``) and of the command line's (``--batch 0: must be …``)."""
    if (low is not None and value < low) or (high is not None and value > high):
        return "must be " + (f"between {low:,} and {high:,}" if low is not None and high is not None else
                             f"at least {low:,}" if low is not None else f"at most {high:,}")
    return None


def expect_bool(value: Any, fn: str, arg: str) -> bool:
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"expected True or False, got {shown(value)}", path=where(fn, arg))
    return value


def expect_str(value: Any, fn: str, arg: str, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise ArgumentTypeError(f"expected {what}, got {shown(value)}", path=where(fn, arg))
    return value


def expect_choice(value: Any, fn: str, arg: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    expect_str(value, fn, arg, f"one of {', '.join(choices)}")
    if value not in choices:
        guess = next((c for c in choices if c.lower() == value.lower()), None) or did_you_mean(value, choices)
        raise ArgumentValueError(f"unknown {arg} '{value}'" + ("" if guess else f" (choose from {', '.join(choices)})"),
                                 path=where(fn, arg), hint=f"did you mean '{guess}'?" if guess else None)
    return value


def expect_dtype(value: Any, fn: str, arg: str, accepted: tuple[str, ...]) -> str:
    """A dtype of ``accepted`` in any spelling (``archstat/dtypes.py``: 'fp16' is 'float16'), as its
    canonical name."""
    expect_str(value, fn, arg, f"one of {', '.join(accepted)}")
    try:
        return dtypes.canonical(value, accepted, path=where(fn, arg))
    except UnknownNameError as exc:
        raise ArgumentValueError(exc.message, path=exc.path, hint=exc.hint) from None


def is_module(value: Any) -> bool:
    """An ``nn.Module`` (duck-typed: torch is never imported to ask)."""
    return hasattr(value, "named_modules") and hasattr(value, "forward") and not isinstance(value, type)


def expect_model(value: Any, fn: str, arg: str, *, spec: bool = True, graph: bool = True,
                 module: bool = False) -> Any:
    """A zoo name or a path (str or os.PathLike), and, where the function takes them, a Spec, a
    Graph or an nn.Module."""
    from archstat.config.spec import Spec
    from archstat.graph import Graph

    if isinstance(value, str):
        if not value.strip():
            raise ArgumentValueError("empty model name", path=where(fn, arg))
        return value
    if isinstance(value, os.PathLike):
        return value
    if (spec and isinstance(value, Spec)) or (graph and isinstance(value, Graph)) or (module and is_module(value)):
        return value
    kinds = ["a zoo name", "a config path"] + (["'module:PKG.MOD:FACTORY'"] if module else []) + (
        ["a Spec"] if spec else []) + (["a Graph"] if graph else []) + (["an nn.Module"] if module else [])
    raise ArgumentTypeError(f"expected {', '.join(kinds[:-1])} or {kinds[-1]}, got {shown(value)}",
                            path=where(fn, arg))


def roof_figure(value: Any, fn: str, arg: str) -> Optional[float]:
    """``peak``, ``bandwidth`` or ``overhead_s``: None (the device's own), or a finite number in range."""
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ArgumentTypeError(f"expected a number or None, got {shown(value)}", path=where(fn, arg))
    problem = roof_problem(float(value), arg)
    if problem:
        raise ArgumentValueError(f"{value!r}: {problem}", path=where(fn, arg))
    return float(value)


def roof_problem(value: float, key: str, scale: float = 1.0, unit: Optional[str] = None) -> Optional[str]:
    """What is wrong with ``value`` as the roof's ``key`` (``ROOF_LIMITS``), or None. ``scale`` and
    ``unit``: the unit the value is given in (``--overhead`` takes µs: scale 1e-6)."""
    low, high, base_unit = ROOF_LIMITS[key]
    unit = unit or base_unit
    if not math.isfinite(value):
        return f"expected a finite number of {unit}"
    if not low <= value * scale <= high:
        return f"must be between {_e(low / scale)} and {_e(high / scale)} {unit}"
    return None


def _e(x: float) -> str:
    """1e6 for 1e+06, 0 for 0: a bound as a person writes it."""
    return "0" if x == 0 else f"{x:.0e}".replace("e+0", "e").replace("e+", "e") if x >= 1e4 else f"{x:g}"
