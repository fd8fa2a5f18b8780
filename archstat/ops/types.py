"""Argument types for ops and block params, and the one function that checks them.

An op's ``Args`` dataclass *is* its schema: each field's annotation is one of the
types below and ``arg(..., min=...)`` adds a lower bound. :func:`coerce` turns a
YAML (or ``--set``) value into that type or raises ``ValueError`` with a message
written for the user.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Union, get_args, get_origin

Size = tuple[int, int]        # an int ``k`` (meaning k×k) or a pair ``[h, w]``
Shape = tuple[int, ...]       # a tensor shape per sample: (C, H, W) or (F,)
Table = tuple[tuple[int, ...], ...]   # a connection table: for each output map, the input maps it reads
Ints = list[int]              # a list of integers, e.g. a permutation of the dimensions (stored as a tuple)

_FLOATY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def arg(default: Any = dataclasses.MISSING, *, min: int | float | None = None):
    """A dataclass field with an optional lower bound checked by :func:`coerce_args`."""
    return dataclasses.field(default=default, metadata={"min": min})


def type_name(typ) -> str:
    if typ is int:
        return "int"
    if typ is float:
        return "float"
    if typ is bool:
        return "bool"
    if typ is str:
        return "str"
    if typ == Size:
        return "size"
    if typ == Table:
        return "table"
    if typ == Ints:
        return "ints"
    if _is_optional(typ):
        inner = [t for t in get_args(typ) if t is not type(None)]
        return type_name(inner[0]) + "?"
    return getattr(typ, "__name__", str(typ))


TYPES_BY_NAME = {"int": int, "float": float, "bool": bool, "str": str, "size": Size}


def _describe(value) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string '{value}'"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


def _bool_hint(value) -> str:
    return (" (YAML 1.1 reads on/off/yes/no as booleans; write a number)"
            if isinstance(value, bool) else "")


def _as_int(value, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, got {_describe(value)}{_bool_hint(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\d+\s*[x×*]\s*\d+", value.strip()):
        h, w = re.split(r"\s*[x×*]\s*", value.strip())
        raise ValueError(f"{what} must be an integer, got {_describe(value)} (write [{h}, {w}])")
    raise ValueError(f"{what} must be an integer, got {_describe(value)}")


def _as_float(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = ""
        if isinstance(value, str) and _FLOATY.match(value):
            hint = (" (YAML 1.1 reads a number like 1e-3 as a string; "
                    "write it with a dot and a signed exponent: 1.0e-3)")
        raise ValueError(f"{what} must be a number, got {_describe(value)}{hint}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number")
    return float(value)


def _as_bool(value, what: str) -> bool:
    if not isinstance(value, bool):
        hint = (" (write it without quotes: true or false)"
                if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off") else "")
        raise ValueError(f"{what} must be true or false, got {_describe(value)}{hint}")
    return value


def _as_str(value, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {_describe(value)}")
    return value


def _as_size(value, what: str) -> Size:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{what} must be an integer or a pair [h, w], got {_describe(value)}")
        return (_as_int(value[0], what), _as_int(value[1], what))
    n = _as_int(value, what + " (an integer or a pair [h, w])")
    return (n, n)


def _as_ints(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{what} must be a list of integers, got {_describe(value)}")
    return tuple(_as_int(v, what) for v in value)


def _as_table(value, what: str) -> Table:
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(r, (list, tuple)) and r
                                                                     for r in value):
        raise ValueError(f"{what} must be a list of non-empty lists of input indices, got {_describe(value)}")
    return tuple(tuple(_as_int(i, what) for i in row) for row in value)


# one coercer per argument type: (value, what) → the value in that type, or a ValueError for the user
_COERCERS = {int: _as_int, float: _as_float, bool: _as_bool, str: _as_str, Size: _as_size, Ints: _as_ints,
             Table: _as_table}


def _is_optional(typ) -> bool:
    return get_origin(typ) is Union or type(typ).__name__ == "UnionType"


def coerce(value, typ, what: str):
    """Check and convert ``value`` to ``typ``; ``what`` names it in messages."""
    if typ is int and type(value) is int:   # the common cases first
        return value
    if typ is bool and type(value) is bool:
        return value
    if typ == Size and type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        return value
    if _is_optional(typ):
        inner = [t for t in get_args(typ) if t is not type(None)]
        return None if value is None else coerce(value, inner[0], what)
    coercer = _COERCERS.get(typ)
    if coercer is None:
        raise TypeError(f"unsupported argument type {typ!r}")  # pragma: no cover - programming error
    return coercer(value, what)


def check_min(value, minimum, what: str) -> None:
    if minimum is None or value is None:
        return
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if v < minimum:
            raise ValueError(f"{what} must be at least {minimum}, got {v}")


def fmt_size(size: Size) -> str:
    """``(3, 3)`` → ``3``; ``(1, 7)`` → ``1×7``."""
    return str(size[0]) if size[0] == size[1] else f"{size[0]}×{size[1]}"


def fmt_shape(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)
