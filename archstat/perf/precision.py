"""Which dtype every tensor has at run time, and the casts it costs: plain fp32/fp16/bf16 models,
autocast (``--amp``) as PyTorch's CUDA autocast runs it, and an int8 engine.

The trace runs in float32; the precision a run uses is applied here, op by op over the dataflow, so
one trace serves every precision. Autocast follows ``aten/src/ATen/autocast_mode.h`` (PyTorch 2.x):

- **lower precision** (``AT_FORALL_LOWER_PRECISION_FP``): convolutions, matrix products, linear,
  ``prelu``, RNN cells and scaled-dot-product attention run in the autocast dtype: their floating
  inputs are cast to it, their outputs are in it;
- **fp32** (``AT_FORALL_FP32``): layer/group/RMS norm, softmax and log-softmax, exp, log, pow, sum,
  prod, cumulative ops, norms, upsampling, the losses: inputs cast to float32, outputs float32
  (softmax of a half input reads it as is and writes float32: ``_softmax(…, half_to_float)``);
- **promote** and everything else: run in the widest floating dtype of their inputs (an fp16 tensor
  plus an fp32 parameter gives fp32, as in a ViT's ``x + pos_embed``); batch norm keeps its input's
  dtype (its fp32 statistics and affine parameters do not promote).

A parameter cast for a lower-precision op is cast once per forward (autocast's weight cache); an
activation is cast each time an op needs it in another dtype. Each cast is a kernel of its own
(read at the source dtype, write at the target), charged like any other.

In a training step's backward pass (which autocast does not touch) a gradient has the dtype of the
tensor it is the gradient of: a lower-precision op's backward reads the same half-precision weight
copy its forward read and works in half precision (a float32 gradient arriving from a float32 region,
a norm or softmax, is cast down first: the backward of the forward's cast); its weight gradient is
cast back to the float32 master weight's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from archstat.dtypes import DTYPES
from archstat.ir import aten
from archstat.ir.aten import Autocast
from archstat.ir.program import IdSpace, OpCall, TensorRef

_RANK = {"float64": 3, "float32": 2, "float16": 1, "bfloat16": 1}


@dataclass(frozen=True)
class Precision:
    """How a run stores and computes: ``storage`` is the dtype of parameters and activations (a
    plain ``model.half()`` run, or float32 under autocast), ``autocast`` the autocast dtype or None.
    (An engine's int8 is its plan's: matrix ops and what they fuse run in int8, the rest in fp16.)"""

    storage: str = "float32"
    autocast: Optional[str] = None

    @property
    def name(self) -> str:
        if self.autocast:
            return f"amp-{_short(self.autocast)}"
        return _short(self.storage)


def _short(dtype: str) -> str:
    """float16 → fp16 (a dtype's peak key, as a run's precision is named)."""
    found = DTYPES.get(dtype)
    return found.peak if found is not None else dtype


def _autocast(op: str) -> Autocast:
    """The op's autocast class in the aten table (an op without a row: promote)."""
    row = aten.get(op)
    return row.autocast if row is not None else Autocast.PROMOTE


def _reads_half(op: str) -> bool:
    row = aten.get(op)
    return row is not None and row.reads_half


def _widest(dtypes) -> Optional[str]:
    floats = [d for d in dtypes if d in _RANK]
    return max(floats, key=_RANK.get) if floats else None


def _seen_as(copy: TensorRef, view: TensorRef) -> TensorRef:
    """Autocast's cached cast of a weight, read through this op's own view of that weight: the view's
    shape, layout and elements (a Linear's forward reads ``w.t()``, its backward ``w``), the copy's
    storage and dtype."""
    return TensorRef(view.shape, copy.dtype, copy.id, view.role, view.layout, view.elements)


def cast_call(src: TensorRef, dtype: str, row: str, phase: str, ids: IdSpace, part_of: int = -1) -> OpCall:
    """A cast of ``src`` to ``dtype`` (``_to_copy``): reads it at its dtype, writes it at the new one."""
    return OpCall("_to_copy", row, (src,), (replace(src, dtype=dtype, id=ids.derived("cast", src.id, dtype)),),
                  phase=phase, attrs={"cast": True}, part_of=part_of)


def apply(calls: list[OpCall], precision: Precision, *, ids: Optional[IdSpace] = None) -> list[OpCall]:
    """The calls at run time: every floating tensor in the dtype it has under ``precision``, with
    the casts it runs (autocast's) inserted before the op that needs them (``ids``: the program's
    allocator of derived storages)."""
    ids = ids or IdSpace(calls)
    dtype_of: dict[int, str] = {}
    weight_casts: dict[tuple[int, str], TensorRef] = {}
    out: list[OpCall] = []
    low = precision.autocast
    moved: dict[int, int] = {}          # index in ``calls`` → index in ``out`` (casts shift them)


    def current(t: TensorRef) -> str:
        if not t.floating:
            return t.dtype
        return dtype_of.get(t.id, precision.storage)

    for index, k in enumerate(calls):
        part_of = moved.get(k.part_of, -1) if k.part_of >= 0 else -1
        ins = [t.retyped(current(t)) if t.floating else t for t in k.inputs]
        half_weights: dict[tuple, TensorRef] = {}
        if low and k.phase == "backward":
            # the backward reads the half-precision copy its forward read
            for i, t in enumerate(ins):
                copy = weight_casts.get((t.id, low)) if t.weight and t.floating else None
                if copy is not None:
                    ins[i] = _seen_as(copy, t)
                    half_weights[t.shape] = t
        if low and k.phase == "backward" and any(t.dtype == low for t in ins if t.floating):
            target = low       # the backward of a half-precision op: float32 gradients are cast down
        elif low and k.phase == "backward":
            target = None
        elif low and _autocast(k.op) is Autocast.LOWER:
            target = low
        elif low and _autocast(k.op) is Autocast.FP32:
            target = "float32"
        else:
            target = None
        if target is not None and not k.view:
            cast_ins = []
            for t in ins:
                if not t.floating or t.dtype == target or (target == "float32" and _reads_half(k.op)):
                    cast_ins.append(t)
                    continue
                if t.weight and target == low:
                    key = (t.id, target)
                    if key not in weight_casts:     # autocast's cache: a weight is cast once per forward
                        c = cast_call(t, target, k.row, k.phase, ids, part_of)
                        out.append(c)
                        weight_casts[key] = c.outputs[0]
                    cast_ins.append(_seen_as(weight_casts[key], t))
                    continue
                c = cast_call(t, target, k.row, k.phase, ids, part_of)
                out.append(c)
                cast_ins.append(c.outputs[0])
            ins = cast_ins
            result = target
        elif _autocast(k.op) is Autocast.KEEP_INPUT:
            result = _widest(t.dtype for t in ins if not t.weight) or _widest(t.dtype for t in ins)
        else:
            result = _widest(t.dtype for t in ins)
        outs = []
        for t in k.outputs:
            if not t.floating:
                outs.append(t)
                continue
            # an explicit cast in the model to a low precision keeps its target
            d = t.dtype if k.op == "_to_copy" and t.dtype != "float32" else result or current(t)
            dtype_of[t.id] = d
            outs.append(t.retyped(d))
        moved[index] = len(out)
        out.append(k.moved(tuple(ins), tuple(outs), part_of=part_of))
        for t in outs:      # a weight gradient in half precision: cast to the float32 master weight's dtype
            if t.shape in half_weights and t.dtype == low:
                out.append(cast_call(t, "float32", k.row, k.phase, ids, part_of))
    return out

