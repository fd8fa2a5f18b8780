"""Parsing of option values shared by the commands; every failure is a one-line UsageError."""

from __future__ import annotations

import math
import re

from archstat import dtypes
from archstat.errors import UnknownNameError, UsageError
from archstat.trace.inputs import InputSet

INPUT_HELP = ("Input, repeatable: [NAME=][DTYPE:][unbatched:]D1xD2x…, one sample's shape of any rank, the batch "
              "prepended (B marks another place: 20xBx32); NAME= a keyword argument; DTYPE float32, float16, "
              "bfloat16, int64, int32 or bool. A config takes one C×H×W.")

FORMATS = ("table", "json", "csv", "markdown")
UNITS = ("macs", "flops")
MODES = ("eval", "train")
OPTIMIZERS = ("sgd", "momentum", "adam")
MAX_BATCH = 10**9
MAX_DIM = 10**7


def choice(value: str, options, option: str) -> str:
    if value not in options:
        raise UnknownNameError("value", value, options, path=option,
                               hint_extra=f" (choose from {', '.join(options)})")
    return value


def parse_input(text: str | None) -> tuple[int, ...] | None:
    """A config's one input: '3x224x224' (or 3,224,224 or 3×224×224) → (3, 224, 224)."""
    if text is None:
        return None
    from archstat.trace.inputs import parse_one

    return InputSet((parse_one(text),)).config_shape()


def parse_inputs(values) -> "InputSet | None":
    """Repeatable ``--input [NAME=][DTYPE:][unbatched:]D1xD2x…`` (``trace/inputs.py``'s grammar) → an
    InputSet: a config takes one plain C×H×W of it, a module any number."""
    if values is None:
        return None
    from archstat.trace.inputs import parse_all

    return parse_all([values] if isinstance(values, str) else list(values))


def parse_batch(value: int) -> int:
    if value < 1 or value > MAX_BATCH:
        raise UsageError(f"--batch {value}: must be between 1 and {MAX_BATCH:,}")
    return value


def parse_dtype(value: str, accepted: tuple[str, ...] = dtypes.STORAGE) -> str:
    """--dtype in any spelling of ``archstat/dtypes.py`` (fp32 is float32) → its canonical name."""
    return dtypes.canonical(value, accepted, path="--dtype")


def parse_sets(values: list[str] | None) -> dict[str, str]:
    """['width=2', 'depth=3'] → {'width': '2', 'depth': '3'}; the Spec checks names and types."""
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise UsageError(f"--set '{item}': expected NAME=VALUE, e.g. --set num_classes=10")
        if not name.isidentifier():
            raise UsageError(f"--set '{item}': '{name}' is not a param name")
        if name in out:
            raise UsageError(f"--set '{item}': {name} is set twice")
        out[name] = value.strip()
    return out


def parse_optimizer(value: str | None, mode: str) -> str:
    """--optimizer only means something in training: given with --mode eval it is an error, not ignored."""
    if value is None:
        return "adam"
    if mode != "train":
        raise UsageError(f"--optimizer {value}: the optimizer applies only with --mode train")
    return choice(value, OPTIMIZERS, "--optimizer")


def check_amp(amp: bool, mode: str) -> bool:
    if amp and mode != "train":
        raise UsageError("--amp: mixed precision training memory applies only with --mode train")
    return amp


MAX_TIME_BUDGET = 3600.0
MAX_STEPS = 10_000


def check_steps(warmup: int, iters: int) -> None:
    """profile's --warmup and --iters: each at most 10,000 steps (a bound on the time it runs)."""
    for option, value in (("--warmup", warmup), ("--iters", iters)):
        if value > MAX_STEPS:
            raise UsageError(f"{option} {value}: at most {MAX_STEPS:,} steps")


def parse_time_budget(value: float | None) -> float | None:
    """--time-budget seconds: a finite positive number, at most an hour."""
    if value is None:
        return None
    if not (math.isfinite(value) and 0 < value <= MAX_TIME_BUDGET):
        raise UsageError(f"--time-budget {value}: expected seconds, more than 0 and at most {MAX_TIME_BUDGET:,.0f}")
    return value
