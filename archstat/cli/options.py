"""The options the commands share, declared once each, and the parsing of their values.

Each shared option is a typer ``Annotated`` alias (``Format``, ``Inputs``, ``Sets``, ``Batch``, ``Dtype``, …):
a command's signature says ``fmt: options.Format = "table"``, so the flag, its short form and its help
text are the same in every command that takes it. Where one flag means two things (``--batch`` one size,
or a list for a sweep), each meaning is declared once (``Batch``, ``Batches``).

Every failure is a one-line UsageError; the bounds and the vocabularies are those the Python API
checks (``archstat/argcheck.py``, ``archstat/dtypes.py``), so the CLI and the API agree.
"""

from __future__ import annotations

import math
from typing import Annotated, Optional

import typer

from archstat import argcheck, dtypes
from archstat.errors import UnknownNameError, UsageError
from archstat.trace.inputs import InputSet

INPUT_HELP = ("Input, repeatable: [NAME=][DTYPE:][unbatched:]D1xD2x…, one sample's shape of any rank, the batch "
              "prepended (B marks another place: 20xBx32); NAME= a keyword argument; DTYPE float32, float16, "
              "bfloat16, int64, int32 or bool (or fp32, fp16, bf16). A config takes one C×H×W.")

FORMATS = ("table", "json", "csv", "markdown")
UNITS = ("macs", "flops")
MODES = ("eval", "train")
OPTIMIZERS = ("sgd", "momentum", "adam")
MAX_BATCH = argcheck.MAX_BATCH
MAX_DIM = 10**7

# -- the shared options ----------------------------------------------------------------------------------

Format = Annotated[str, typer.Option("--format", "-f", help="table, json, csv or markdown.")]
ReportFormat = Annotated[str, typer.Option("--format", "-f", help="table, json, csv, markdown, or html (one "
                                           "self-contained report file on stdout: > vgg16.html).")]
InfoFormat = Annotated[str, typer.Option("--format", "-f", help="table, json or markdown.")]
GraphFormat = Annotated[str, typer.Option("--format", "-f", help="mermaid or dot.")]

Inputs = Annotated[Optional[list[str]], typer.Option("--input", help=INPUT_HELP)]
InputSizes = Annotated[Optional[list[str]], typer.Option(
    "--input", help="Input sizes C×H×W, quoted, with braces or repeated: '3x{128,160,224}' (C×S is a square S×S "
    "input), '3x{128,224}x{128,224}'; plot takes one unless --sweep.")]
ConfigInput = Annotated[Optional[str], typer.Option("--input", help="Input C×H×W.")]

Sets = Annotated[Optional[list[str]], typer.Option("--set", help="Override a declared param: NAME=VALUE "
                                                   "(repeatable).")]
CompareSets = Annotated[Optional[list[str]], typer.Option("--set", help="NAME=VALUE for every model declaring "
                                                          "NAME, or B:NAME=VALUE for one (A is the first model).")]
GridSets = Annotated[Optional[list[str]], typer.Option("--set", help="A declared param over values: NAME=V1,V2 "
                                                       "(repeatable; plot takes one value unless --sweep).")]

Fits = Annotated[Optional[str], typer.Option("--fits", help="A memory budget such as 24GiB: which points' training "
                                            "memory fits it (plot --sweep draws it).")]

Batch = Annotated[int, typer.Option("--batch", "-b", help="Batch size (activations and MACs scale with it).")]
Batches = Annotated[Optional[str], typer.Option("--batch", "-b", help="Batch sizes: 1,8,32,128 (plot takes one "
                                                "unless --sweep).")]

Dtype = Annotated[str, typer.Option("--dtype", help=f"{dtypes.names(dtypes.STORAGE)} (or fp32, fp16, bf16): "
                                    "bytes per activation element.")]
RooflineDtype = Annotated[str, typer.Option("--dtype", help=f"{dtypes.names(dtypes.ROOFLINE, short=True)} (or "
                                            "float32, float16, bfloat16): the model's dtype, or with --amp the "
                                            "autocast dtype.")]
ProfileDtype = Annotated[str, typer.Option("--dtype", help=f"{dtypes.names(dtypes.PROFILE)} (or fp32, fp16, "
                                           "bf16).")]

Depth = Annotated[Optional[int], typer.Option("--depth", help="Collapse rows below this many dotted name levels "
                                              "into one row per block.")]
Units = Annotated[str, typer.Option("--units", help="macs, or flops (= 2 × MACs).")]
Mode = Annotated[str, typer.Option("--mode", help="eval, or train: auxiliary heads counted (table: and the "
                                   "training memory estimated; profile: a training step measured).")]
Optimizer = Annotated[Optional[str], typer.Option("--optimizer", help="The training step's optimizer: sgd, "
                                                  "momentum or adam (default adam; table and profile: with "
                                                  "--mode train).")]
Amp = Annotated[bool, typer.Option("--amp", help="Mixed precision training memory: 2-byte activations, fp32 "
                                   "master weights (table: with --mode train).")]
_DEVICE = typer.Option("--device", help="A devices.yaml entry (archstat devices lists them: h100, a100, l4, "
                       "rtx4090, …), or cpu / cuda / cuda:N (calibrated figures).")
RooflineDevice = Annotated[Optional[str], _DEVICE]
_DEVICES = typer.Option("--device", help="A devices.yaml entry (archstat devices lists them: h100, a100, l4, "
                        "rtx4090, …), or cpu / cuda / cuda:N (calibrated figures); or several, comma-separated "
                        "(h100,h200,b200): the model is traced once and predicted on each, a column per device.")
RequiredDevice = Annotated[str, _DEVICES]   # roofline's: typer's required marker ``...`` as its default


def one_device(device: Optional[str], command: str) -> Optional[str]:
    """--device of a command that predicts on one device: a list is a usage error naming roofline's."""
    if device is not None and "," in device:
        raise UsageError(f"--device {device}: {command} predicts on one device; archstat roofline MODEL --device "
                         f"{device} compares devices")
    return device
Wide = Annotated[bool, typer.Option("--wide", help="Every column with exact numbers, whatever the width.")]
Columns = Annotated[Optional[str], typer.Option("--columns", help="Only these columns, in this order, e.g. "
                                               "layer,label,output,macs (the names the footer lists when some "
                                               "are not shown).")]


# -- their values ----------------------------------------------------------------------------------------

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


def parse_inputs(values) -> InputSet | None:
    """Repeatable ``--input [NAME=][DTYPE:][unbatched:]D1xD2x…`` (``trace/inputs.py``'s grammar) → an
    InputSet: a config takes one plain C×H×W of it, a module any number."""
    if values is None:
        return None
    from archstat.trace.inputs import parse_all

    return parse_all([values] if isinstance(values, str) else list(values))


def parse_batch(value: int) -> int:
    problem = argcheck.range_problem(value, 1, MAX_BATCH)
    if problem:
        raise UsageError(f"--batch {value}: {problem}")
    return value


def parse_depth(value: Optional[int]) -> Optional[int]:
    problem = None if value is None else argcheck.range_problem(value, 1)
    if problem:
        raise UsageError(f"--depth {value}: {problem}")
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
