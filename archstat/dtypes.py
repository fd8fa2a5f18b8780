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
    "KV_FORMATS",
    "PROFILE",
    "ROOFLINE",
    "STORAGE",
    "WEIGHT_FORMATS",
    "DType",
    "QuantFormat",
    "bytes_of",
    "canonical",
    "lookup",
    "names",
    "quant_format",
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


# -- how a language model's weights and KV cache are stored (archstat llm) ---------------------------------

@dataclass(frozen=True)
class QuantFormat:
    """How a model's weights (or its KV cache) are stored: bits per element and, for a block-quantized
    format, one scale (with its zero point, where it has one) per ``group`` consecutive elements along the
    reduction dimension. ``math`` is the peak its matrix products run at: the format's own (fp8 and int8
    W8A8, fp4 W4A4) or, for a weight-only format (int4: W4A16), '' (the activations' dtype: the kernel
    dequantizes the weights as it reads them)."""

    name: str
    bits: int                     # bits per element
    group: int = 0                # elements per scale group along K; 0: per-tensor scales (no bytes per group)
    scale_bytes: int = 0          # bytes of one group's scale (and zero point)
    math: str = ""                # the peak key matrix products run at ('' = the activations' dtype)
    torch: str = ""               # the torch dtype the elements are held in
    aliases: tuple[str, ...] = ()
    summary: str = ""

    def nbytes(self, rows: int, k: int) -> int:
        """The bytes of a ``rows`` × ``k`` matrix (``k`` the reduction dim) with its group scales:
        ⌈rows·k·bits/8⌉ + rows·⌈k/group⌉·scale_bytes."""
        data = -(-rows * k * self.bits // 8)
        return data + (rows * -(-k // self.group) * self.scale_bytes if self.group else 0)

    @property
    def bytes_per_element(self) -> float:
        """Bytes per weight, scales included (where ``k`` is a multiple of the group)."""
        return self.bits / 8 + (self.scale_bytes / self.group if self.group else 0.0)


WEIGHT_FORMATS: dict[str, QuantFormat] = {f.name: f for f in (
    QuantFormat("bf16", 16, math="bf16", torch="bfloat16", aliases=("bfloat16",), summary="bfloat16"),
    QuantFormat("fp16", 16, math="fp16", torch="float16", aliases=("float16", "half"), summary="float16"),
    QuantFormat("fp8", 8, math="fp8", torch="float8_e4m3fn", aliases=("float8_e4m3fn",),
                summary="FP8 e4m3, per-tensor scales, W8A8 (TensorRT-LLM's and vLLM's FP8)"),
    QuantFormat("int8", 8, math="int8", torch="int8",
                summary="int8 W8A8 (SmoothQuant), per-tensor scales"),
    QuantFormat("int4", 4, group=128, scale_bytes=4, math="", torch="uint8", aliases=("w4a16",),
                summary="int4 weight-only (AWQ/GPTQ W4A16): an fp16 scale and zero point per 128 weights"),
    QuantFormat("fp4", 4, group=16, scale_bytes=1, math="fp4", torch="uint8", aliases=("nvfp4",),
                summary="NVFP4 (e2m1) W4A4: an fp8 e4m3 scale per 16 weights (Blackwell)"),
)}
KV_FORMATS: dict[str, QuantFormat] = {n: WEIGHT_FORMATS[n] for n in ("bf16", "fp16", "fp8", "int8")}


def quant_format(text: str, accepted: dict[str, QuantFormat] = WEIGHT_FORMATS, *,
                 path: str | None = "--dtype") -> QuantFormat:
    """The weight (or KV cache) format ``text`` names, in any spelling; an UnknownNameError otherwise."""
    for f in accepted.values():
        if text == f.name or text in f.aliases:
            return f
    spelled = [s for f in accepted.values() for s in (f.name, *f.aliases)]
    raise UnknownNameError("dtype", str(text), spelled, path=path,
                           hint_extra=f" (choose from {', '.join(accepted)})")
