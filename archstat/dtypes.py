"""One vocabulary for dtypes, for every command and the Python API. Nothing here imports torch.

Each dtype has one canonical name (torch's, without ``torch.``), its bytes per element, the key of
its peak in a devices table (``fp32``, ``bf16``, …) and its aliases: ``fp32`` is ``float32``,
``fp16`` and ``half`` are ``float16``, ``bf16`` is ``bfloat16``. ``tf32`` is not a storage format:
it is float32 in memory, run at the TF32 peak.

A command (or an API function) takes a subset of them (``STORAGE`` for the analytic counts,
``ROOFLINE`` for a prediction, ``PROFILE`` for a measurement, ``INPUT`` for a module's inputs);
``lookup`` resolves any spelling within a subset, and an unknown one is an ``UnknownNameError``
with a did-you-mean:

>>> lookup("fp32", STORAGE).name
'float32'
>>> lookup("bf16", ROOFLINE).peak
'bf16'
"""

from __future__ import annotations

from dataclasses import dataclass

from archstat.errors import UnknownNameError

__all__ = [
    "BY_PEAK",
    "CALIBRATE",
    "DTYPES",
    "FLOATING",
    "INPUT",
    "PROFILE",
    "ROOFLINE",
    "STORAGE",
    "DType",
    "bytes_of",
    "canonical",
    "lookup",
    "names",
    "spellings",
]


@dataclass(frozen=True)
class DType:
    name: str                       # canonical: float32, float16, bfloat16, int8, tf32, …
    bytes: int                      # bytes per element in memory
    peak: str                       # the key of its peak in devices.yaml (fp32, tf32, fp16, bf16, fp8, int8)
    torch: str                      # the torch dtype it is stored as (torch.<name>)
    aliases: tuple[str, ...] = ()   # other spellings that mean the same
    short: str = ""                 # the short spelling a roofline shows (fp32); defaults to peak
    floating: bool = False          # a floating-point format (autocast and casts apply to it)
    align: int = 1                  # elements a tensor-core matrix op needs its channels to be a multiple of


DTYPES: dict[str, DType] = {d.name: d for d in (
    DType("float32", 4, "fp32", "float32", ("fp32",), floating=True),
    DType("tf32", 4, "tf32", "float32", floating=True, align=4),
    DType("float16", 2, "fp16", "float16", ("fp16", "half"), floating=True, align=8),
    DType("bfloat16", 2, "bf16", "bfloat16", ("bf16",), floating=True, align=8),
    DType("float64", 8, "fp64", "float64", ("fp64", "double"), floating=True),
    DType("float8_e4m3fn", 1, "fp8", "float8_e4m3fn", floating=True, align=16),
    DType("float8_e5m2", 1, "fp8", "float8_e5m2", floating=True, align=16),
    DType("int8", 1, "int8", "int8", align=16),
    DType("uint8", 1, "uint8", "uint8"),
    DType("int16", 2, "int16", "int16"),
    DType("int32", 4, "int32", "int32"),
    DType("int64", 8, "int64", "int64"),
    DType("bool", 1, "bool", "bool"),
    DType("complex64", 8, "complex64", "complex64"),
    DType("complex128", 16, "complex128", "complex128"),
)}
# by the key of a peak (the math a kernel runs at): fp32, tf32, fp16, bf16, fp8, int8 → the first dtype with it
BY_PEAK: dict[str, DType] = {}
for _d in DTYPES.values():
    BY_PEAK.setdefault(_d.peak, _d)
FLOATING = frozenset(d.name for d in DTYPES.values() if d.floating)

# What each command takes, in the order its help and its errors list them.
STORAGE = ("float32", "float16", "bfloat16", "int8")              # table, compare, sweep, archstat.analyze
ROOFLINE = ("float32", "tf32", "float16", "bfloat16", "int8")     # roofline, plot --roofline, archstat.roofline
PROFILE = ("float32", "float16", "bfloat16")                      # profile
CALIBRATE = ("float32", "tf32", "float16", "bfloat16")            # roofline --calibrate
INPUT = ("float32", "float16", "bfloat16", "int64", "int32", "bool")   # --input DTYPE:…

_BY_SPELLING = {s: d for d in DTYPES.values() for s in (d.name, *d.aliases)}


def spellings(accepted: tuple[str, ...] = tuple(DTYPES)) -> list[str]:
    """Every name and alias of the ``accepted`` dtypes."""
    return [s for name in accepted for s in (name, *DTYPES[name].aliases)]


def names(accepted: tuple[str, ...], short: bool = False) -> str:
    """'float32, float16, bfloat16 or int8' (or with ``short`` 'fp32, tf32, fp16, bf16 or int8')."""
    shown = [DTYPES[n].peak if short else n for n in accepted]
    return ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]


def lookup(text: str, accepted: tuple[str, ...] = tuple(DTYPES), *, path: str | None = "--dtype") -> DType:
    """The dtype ``text`` spells, if it is one of ``accepted``; else an UnknownNameError naming the
    closest spelling (``--dtype: unknown dtype 'bf17' (did you mean 'bf16'?)``)."""
    found = _BY_SPELLING.get(text) if isinstance(text, str) else None
    if found is None or found.name not in accepted:
        raise UnknownNameError("dtype", str(text), spellings(accepted), path=path,
                               hint_extra=f" (choose from {', '.join(spellings(accepted))})")
    return found


def canonical(text: str, accepted: tuple[str, ...] = tuple(DTYPES), *, path: str | None = "--dtype") -> str:
    """'fp16' → 'float16'."""
    return lookup(text, accepted, path=path).name


def bytes_of(name: str, default: int | None = None) -> int:
    """Bytes per element of a dtype (any spelling); ``default`` for one archstat does not know."""
    found = _BY_SPELLING.get(name)
    if found is None:
        if default is None:
            raise KeyError(name)
        return default
    return found.bytes
