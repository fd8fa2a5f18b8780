"""Sweeps: one analysis per point of a grid over input size, batch and declared params."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from archstat.errors import UsageError

MAX_POINTS = 10_000
MAX_WORK = 50_000          # points × layers analysed: a sweep of a deep model takes fewer points
_BRACES = re.compile(r"\{([^{}]*)\}")
_BYTES = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$")
_SCALE = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def expand_braces(text: str) -> list[str]:
    """'3x{128,224}' → ['3x128', '3x224']; several braces give every combination (at most
    MAX_POINTS, counted before any is made)."""
    parts = _BRACES.split(text)
    literals, choices = parts[0::2], parts[1::2]
    if any("{" in p or "}" in p for p in literals):
        raise UsageError(f"'{text}': unbalanced braces")
    options = [[c.strip() for c in group.split(",") if c.strip()] or [""] for group in choices]
    if math.prod(len(o) for o in options) > MAX_POINTS:
        raise UsageError(f"'{text}': the braces make {math.prod(len(o) for o in options):,} values; the limit "
                         f"is {MAX_POINTS:,}")
    out = []
    for combo in itertools.product(*options):
        out.append("".join(lit + (combo[i] if i < len(combo) else "") for i, lit in enumerate(literals)))
    return out


def split_values(text: str, option: str) -> list[str]:
    """A list of values: items separated by commas outside braces, each item brace-expanded.
    '1,{8,32}' → ['1', '8', '32']; '3x{128,224}' → ['3x128', '3x224']. An empty item is an error."""
    items, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            raise UsageError(f"{option} '{text}': unbalanced braces")
        if ch == "," and depth == 0:
            items.append(text[start:k])
            start = k + 1
    items.append(text[start:])
    out: list[str] = []
    for item in items:
        if not item.strip():
            raise UsageError(f"{option} '{text}': an empty value (expected values separated by commas)")
        out += [v for v in expand_braces(item.strip()) if v.strip()] or [""]
        if len(out) > MAX_POINTS:
            raise UsageError(f"{option} '{text}': more than {MAX_POINTS:,} values")
    if any(not v.strip() for v in out):
        raise UsageError(f"{option} '{text}': an empty value (expected values separated by commas)")
    return out


def parse_bytes(text: str) -> int:
    """'24GiB' → 25769803776; '16GB' → 16000000000. A unit is required (GB and GiB differ by 7 %)."""
    m = _BYTES.match(text)
    if not m:
        raise UsageError(f"--fits '{text}': expected a size with a unit, e.g. 24GiB or 16GB")
    value = float(m.group(1)) * _SCALE[m.group(2)]
    if not value < 10**30:   # the bound on every size; also an infinity read from 400 digits
        raise UsageError(f"--fits '{text}': at most 10^30 bytes")
    return int(value)


@dataclass
class SweepPoint:
    input: tuple[int, ...]
    batch: int
    params_set: dict[str, Any]
    params: int
    macs: int
    activation_bytes: int
    training_bytes: int
    fits: Optional[bool] = None


@dataclass(repr=False)
class Sweep:  # shown by report/display.py (HTML in notebooks, the table in rich)
    model: str
    dims: list[str]                   # the swept dimensions, in order
    points: list[SweepPoint] = field(default_factory=list)
    budget: Optional[int] = None
    budget_text: str = ""
    optimizer: str = "adam"
    amp: bool = False
    dtype: str = "float32"
